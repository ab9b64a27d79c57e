"""A local stand-in for the Google Sheets v4 endpoints gspread calls: spreadsheet metadata
and values get / update / append, authorised by the service account's signed JWT. It keeps a grid
per worksheet and records every request, so a test can assert what gspread sent."""
from __future__ import annotations

import base64
import json
import re
import threading
from dataclasses import dataclass, field
from typing import Self

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from flask import Flask, abort, jsonify, request
from werkzeug.serving import make_server

from tests.support.processes import free_port

CLIENT_EMAIL = "grader@test.iam.gserviceaccount.com"
# A universe domain of its own: google-auth then signs its own JWT for each call (no token
# exchange, no lookups on Google's IAM hosts), and the fake checks that JWT's signature.
UNIVERSE_DOMAIN = "sheets-fake.test"


@dataclass
class FakeSpreadsheet:
    spreadsheet_id: str
    worksheets: dict[str, list[list]] = field(default_factory=lambda: {"Daily": []})


def _column_number(letters: str) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - 64
    return number


def parse_range(text: str) -> tuple[str, int, int]:
    """`'Daily'!A5:K5` -> ("Daily", row 5, column 1) (the top-left cell)."""
    sheet, _, cells = text.rpartition("!")
    match = re.match(r"([A-Z]+)(\d*)", cells)
    return sheet.strip("'"), int(match.group(2) or 1), _column_number(match.group(1))


def _unpadded_b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class FakeGoogle:
    def __init__(self, spreadsheet_id: str = "sheet-123"):
        self.spreadsheet = FakeSpreadsheet(spreadsheet_id)
        self.requests: list[dict] = []
        self.tokens_seen: list[dict] = []
        # `hold_reads()`: cell reads then wait until `release_reads()`; `reading` is set once one waits.
        self.reads_released = threading.Event()
        self.reads_released.set()
        self.reading = threading.Event()
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.app = self._build_app()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.thread.join(10)

    def hold_reads(self) -> None:
        self.reading.clear()
        self.reads_released.clear()

    def release_reads(self) -> None:
        self.reads_released.set()

    def grid(self, title: str = "Daily") -> list[list]:
        return self.spreadsheet.worksheets[title]

    def service_account_file(self, path) -> None:
        """Write a service-account JSON with this fake's RSA key, in the fake's universe."""
        pem = self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
        path.write_text(json.dumps({
            "type": "service_account", "project_id": "test", "private_key_id": "key-1", "private_key": pem,
            "client_email": CLIENT_EMAIL, "client_id": "1", "token_uri": f"{self.url}/token",
            "universe_domain": UNIVERSE_DOMAIN}))

    def verify_jwt(self, token: str) -> dict | None:
        """The claims of an RS256 JWT signed with this fake's key, else None."""
        try:
            header, payload, signature = token.split(".")
            self.key.public_key().verify(_unpadded_b64(signature), f"{header}.{payload}".encode(),
                                         padding.PKCS1v15(), hashes.SHA256())
            return json.loads(_unpadded_b64(payload))
        except (ValueError, InvalidSignature):
            return None

    def _build_app(self) -> Flask:
        app = Flask(__name__)
        fake = self

        @app.before_request
        def record_and_authorise():
            if request.path == "/token":
                return None
            fake.requests.append({"method": request.method, "path": request.path, "args": request.args.to_dict(),
                                  "json": request.get_json(silent=True)})
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            claims = fake.verify_jwt(token) if scheme == "Bearer" else None
            if claims is not None:
                fake.tokens_seen.append(claims)
            if claims is None or claims.get("iss") != CLIENT_EMAIL or "spreadsheets" not in claims.get("scope", ""):
                return jsonify({"error": {"code": 401, "message": "Request had invalid authentication credentials.",
                                          "status": "UNAUTHENTICATED"}}), 401
            return None

        @app.get("/v4/spreadsheets/<spreadsheet_id>")
        def metadata(spreadsheet_id):
            fake._spreadsheet(spreadsheet_id)
            sheets = [{"properties": {"sheetId": index, "title": title, "index": index, "sheetType": "GRID",
                                      "gridProperties": {"rowCount": 1000, "columnCount": 26}}}
                      for index, title in enumerate(fake.spreadsheet.worksheets)]
            return jsonify({"spreadsheetId": spreadsheet_id, "properties": {"title": "Grader daily"},
                            "sheets": sheets})

        @app.route("/v4/spreadsheets/<spreadsheet_id>/values/<path:cells>", methods=["GET", "PUT", "POST"])
        def values(spreadsheet_id, cells):
            fake._spreadsheet(spreadsheet_id)
            if request.method == "POST" and cells.endswith(":append"):
                return fake._append(cells.removesuffix(":append"))
            title, row, column = parse_range(cells)
            grid = fake.spreadsheet.worksheets.get(title)
            if grid is None:
                abort(400)
            if request.method == "GET":
                fake.reading.set()
                fake.reads_released.wait(30)
                return fake._get(cells, grid, column)
            if request.method == "PUT":
                written = request.get_json()["values"]
                fake._write(grid, row, column, written)
                return jsonify({"spreadsheetId": spreadsheet_id, "updatedRange": cells,
                                "updatedRows": len(written), "updatedColumns": len(written[0])})
            abort(405)

        return app

    def _spreadsheet(self, spreadsheet_id: str) -> None:
        if spreadsheet_id != self.spreadsheet.spreadsheet_id:
            abort(404)

    def _get(self, cells: str, grid: list[list], column: int):
        if request.args.get("majorDimension") == "COLUMNS":
            column_values = [row[column - 1] if len(row) >= column else "" for row in grid]
            while column_values and column_values[-1] == "":
                column_values.pop()
            body = {"range": cells, "majorDimension": "COLUMNS"}
            if column_values:
                body["values"] = [[str(v) for v in column_values]]
            return jsonify(body)
        return jsonify({"range": cells, "majorDimension": "ROWS", "values": [[str(v) for v in row] for row in grid]})

    @staticmethod
    def _write(grid: list[list], row: int, column: int, written: list[list]) -> None:
        for offset, values in enumerate(written):
            while len(grid) < row + offset:
                grid.append([])
            target = grid[row + offset - 1]
            while len(target) < column - 1 + len(values):
                target.append("")
            target[column - 1:column - 1 + len(values)] = values

    def _append(self, cells: str):
        title, _, column = parse_range(cells)
        grid = self.spreadsheet.worksheets[title]
        written = request.get_json()["values"]
        last = max((i + 1 for i, row in enumerate(grid) if any(v != "" for v in row)), default=0)
        self._write(grid, last + 1, column, written)
        return jsonify({"spreadsheetId": self.spreadsheet.spreadsheet_id, "tableRange": cells,
                        "updates": {"updatedRange": f"'{title}'!A{last + 1}", "updatedRows": len(written)}})
