"""The HTTP API's routes, one router per concern, in the order the app includes them (the order of
the OpenAPI document)."""
from . import agreement, declarations, events, lifecycle, messages, page, positions

ROUTERS = (declarations.router, agreement.router, lifecycle.router, positions.router, messages.router, events.router, page.router)
