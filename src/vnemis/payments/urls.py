"""Pages of the payments app (mounted at /payments/)."""

from django.urls import path

from . import views

urlpatterns = [
    path("ipn/", views.ipn, name="payments_ipn"),
    path("return/", views.payment_return, name="payments_return"),
    path("pay/<str:txn_ref>/", views.payment_start, name="payments_pay"),
    path("orders/", views.order_list, name="payments_orders"),
    path("orders/<str:txn_ref>/", views.order_detail, name="payments_order"),
]
