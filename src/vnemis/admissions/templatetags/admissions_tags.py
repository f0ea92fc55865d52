"""Template filters of the admission pages."""

from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def points(hundredths):
    """Integer hundredths of a point as a Decimal (chain ``|floatformat:2`` to show it)."""
    if hundredths is None or hundredths == "":
        return ""
    return Decimal(int(hundredths)) / 100
