"""Schema-first HTTP bodies: each request and response is declared once, as a pydantic model.

Validation (with the API's error format), JSON output and the OpenAPI document are all derived
from those declarations. Foundation layer: imports only ``provider.errors`` of this project.
"""
