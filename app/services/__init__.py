"""Service layer: one public function per use case. Services never import Flask's request or
response objects; the actor is passed in, so the console, the API, the CLI and the tests share them."""
