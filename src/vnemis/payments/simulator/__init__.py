"""A simulator of a Vietnamese payment gateway (VNPay-style), as its own HTTP service.

It plays the bank side of an online payment: a signed redirect (HMAC-SHA512) opens a payment
page where the payer pays or cancels, the browser is sent back to the merchant's return URL
with a signed result, the merchant is told server to server (IPN, retried until it confirms),
and a signed query API (``querydr``) tells a transaction's state. For tests it can delay,
repeat, hold back or drop notifications and lose the return redirect (``/_sim/config``). It
needs neither Django nor our database: it is another party's system.
Run it with ``vnemis sim payment`` or ``python -m vnemis.payments.simulator``.

Modules: ``signing`` (the gateway's own HMAC code), ``merchants``, ``faults``,
``transactions`` (the payment requests and their results), ``notifier`` (IPN delivery),
``query`` (the query API), ``pages`` (HTML), ``stats``, ``server`` (HTTP, on the plumbing all
simulators share in ``vnemis.core.simserver``), ``__main__`` (options). docs/payments.md
describes the protocol.
"""
