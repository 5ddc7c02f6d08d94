"""What the HTTP surfaces (the Twilio webhooks, the API, the dashboard) share: the web process's
services container and the dependencies that hand it to routes, the JSON error shape and the
translation of domain errors into it, and the Prometheus metrics."""
