"""The REST compatibility layer: the documented Aurion CS v1/v2 routes over the domain layer."""
