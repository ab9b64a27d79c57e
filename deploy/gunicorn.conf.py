"""Settings every gunicorn of `make up` shares; deploy/stack.py adds the address and the app."""
workers = 2
threads = 4
accesslog = "-"
# Secret-looking query parameters and headers are masked before a line is written.
logger_class = "deploy.access_log.RedactingLogger"
# Bounded requests: a longer request line is answered 414 and too many or too large header
# fields 431, by gunicorn itself, before any application code runs (an unbounded line costs
# quadratic CPU to parse). 8190 is gunicorn's default; the APIs' longest documented URLs are
# far shorter.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
