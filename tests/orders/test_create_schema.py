"""OrderCreateSchema's fast path (`plain_create`) loads exactly what the declared fields load, and
only bodies they accept: compared on generated bodies, valid and not."""
from __future__ import annotations

import uuid as uuidlib

import marshmallow as ma
from hypothesis import given, settings
from hypothesis import strategies as st

from services.orders.schemas import OrderCreateSchema, plain_create

SCHEMA = OrderCreateSchema()

TEXT = st.one_of(st.text(max_size=8), st.sampled_from(["", "Ada", "김민지", "a\x00b", "\ud800", "x" * 65, "x" * 201]),
                 st.none(), st.integers(), st.booleans())
EMAIL = st.one_of(st.sampled_from(["ada@example.com", "minji@example.kr", "not-an-email", "a@b", "@x.com",
                                   "ada@example.com\n", "x" * 250 + "@example.com", "김@예.한국"]), TEXT)
PRICE = st.one_of(st.sampled_from(["3.00", "0", "0.5", "9.99", "1000000000", "1000000000.01", "9999999999",
                                   "1.234", "1e3", " 3.00", "-1", "NaN", "3.", ".5", "٣"]),
                  st.integers(-5, 10**10), st.floats(allow_nan=True), st.none())
QTY = st.one_of(st.integers(-2, 1_000_002), st.sampled_from([True, False, 2.0, "2", None]))
UUID = st.one_of(st.uuids().map(str), st.uuids().map(lambda u: u.hex.upper()), st.uuids().map(lambda u: f"{{{u}}}"),
                 st.sampled_from(["not-a-uuid", "", "urn:uuid:12345678-1234-5678-1234-567812345678"]), TEXT)
PLAIN_NOTE = st.text(max_size=20).filter(lambda t: "\x00" not in t and not any("\ud800" <= c <= "\udfff" for c in t))
VALID = st.fixed_dictionaries(
    {"customer_name": st.sampled_from(["Ada", "김민지 🙂"]), "customer_email": st.just("ada@example.com"),
     "items": st.lists(st.fixed_dictionaries({"sku": st.just("MUG-1"), "qty": st.integers(1, 1_000_000),
                                              "unit_price": st.sampled_from(["0.00", "9.50", "1000000000"])},
                                             optional={"name": st.just("Mug")}), min_size=1, max_size=3)},
    optional={"number": st.just("PRE-1"), "currency": st.just("EUR"), "status": st.sampled_from(["new", "paid"]),
              "note": PLAIN_NOTE, "deleted": st.booleans(), "uuid": st.uuids().map(str)})
# What a field may be given instead, valid or not.
WILD = {"customer_name": TEXT, "customer_email": EMAIL, "items": st.one_of(st.just([]), TEXT),
        "number": TEXT, "currency": st.one_of(st.sampled_from(["EUR", "krw", "EU", "EURO", "€UR"]), TEXT),
        "status": st.one_of(st.sampled_from(["new", "paid", "lost"]), TEXT), "note": TEXT,
        "deleted": st.one_of(st.booleans(), st.sampled_from(["true", 1, 0, None])), "uuid": UUID, "total": TEXT}
WILD_ITEM = {"sku": TEXT, "name": TEXT, "qty": QTY, "unit_price": PRICE, "extra": TEXT}


@st.composite
def near_valid(draw) -> dict:
    """A valid create with one or two of its values (or one item's) replaced, or a key dropped."""
    body = draw(VALID)
    for key in draw(st.lists(st.sampled_from(sorted(WILD)), max_size=2)):
        body[key] = draw(WILD[key])
    if isinstance(body.get("items"), list) and body["items"] and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(WILD_ITEM)))
        body["items"][0] = {**body["items"][0], key: draw(WILD_ITEM[key])}
        if draw(st.booleans()):
            body["items"][0].pop(draw(st.sampled_from(sorted(WILD_ITEM))), None)
    if draw(st.booleans()):
        body.pop(draw(st.sampled_from(sorted(WILD))), None)
    return body


def declared_load(body):
    try:
        return ma.Schema.load(SCHEMA, body)
    except ma.ValidationError:
        return None


@settings(max_examples=500, deadline=None)
@given(near_valid())
def test_the_fast_path_loads_what_the_fields_load_or_leaves_the_body_to_them(body):
    fast = plain_create(body)
    if fast is not None:
        assert fast == declared_load(body)


@settings(max_examples=200, deadline=None)
@given(VALID)
def test_a_plain_create_takes_the_fast_path(body):
    fast = plain_create(body)
    assert fast is not None
    assert fast == declared_load(body)


def test_the_schema_answers_errors_as_declared():
    body = {"customer_name": "", "customer_email": "nope", "items": [{"sku": "A", "qty": 0, "unit_price": "1.234"}],
            "uuid": str(uuidlib.uuid4())}
    try:
        SCHEMA.load(body)
    except ma.ValidationError as exc:
        assert set(exc.messages) == {"customer_name", "customer_email", "items"}
    else:
        raise AssertionError("an invalid body was loaded")


EDGES = [{"unit_price": "1000000000"}, {"unit_price": "1000000000.01"}, {"unit_price": "9999999999"},
         {"unit_price": "0.001"}, {"unit_price": 3}, {"qty": 0}, {"qty": 1_000_000}, {"qty": 1_000_001},
         {"qty": True}, {"sku": ""}, {"sku": "x" * 64}, {"sku": "x" * 65}, {"name": None}, {"extra": 1}]


def test_edges_of_an_item_load_as_the_fields_load_them():
    for edge in EDGES:
        body = {"customer_name": "Ada", "customer_email": "ada@example.com",
                "items": [{"sku": "MUG-1", "qty": 1, "unit_price": "9.50", **edge}]}
        fast = plain_create(body)
        assert fast is None or fast == declared_load(body), edge
