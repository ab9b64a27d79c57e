"""Settings every gunicorn of `make up` shares; the Procfile adds the address and the app."""
workers = 2
threads = 4
accesslog = "-"
# The APIs bound their own parameters and answer bad ones in the JSON error shape; gunicorn's
# own 414 for a long request line would be an HTML page outside the documented responses.
limit_request_line = 0
