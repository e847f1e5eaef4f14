"""The `price-item` Lambda function for the map-lambda example, served on
the Lambda Invoke API (POST /2015-03-31/functions/<name>/invocations), the
same API `cargo lambda watch` serves. An unknown item is a function error
(`X-Amz-Function-Error: Unhandled`, errorType UnknownSku), as Lambda
reports one.

    python3 examples/map-lambda/function.py 9001
"""
import http.server
import json
import sys

PRICES = {"pen": 150, "ink": 420, "pad": 275}  # cents


class Invoke(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        event = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        price = PRICES.get(event["sku"])
        if price is None:
            body, error = {"errorType": "UnknownSku", "errorMessage": f"no price for {event['sku']}"}, True
        else:
            body, error = {"sku": event["sku"], "total": price * event["qty"] / 100}, False
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if error:
            self.send_header("X-Amz-Function-Error", "Unhandled")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    server = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Invoke)
    print(f"price-item listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()
