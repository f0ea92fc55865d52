"""Template filters of payments: amounts of money as people in Vietnam write them."""

from django import template

from vnemis.core.i18n import english

register = template.Library()


@register.filter
def vnd(amount) -> str:
    """150000 → "150.000 ₫" (Vietnamese) or "150,000 ₫" (English); "" for no amount."""
    if amount is None or amount == "":
        return ""
    grouped = f"{int(amount):,}"
    return f"{grouped if english() else grouped.replace(',', '.')} ₫"
