"""Payment orders, the payment-gateway client, notifications (IPN) and reconciliation."""
