"""Clients for the community platforms the collector pulls from (Babitalk, Gangnamunni, Naver Cafe):
plain HTTP and parsing, no Flask. The pages they reproduce are described in docs/upstreams.md."""
