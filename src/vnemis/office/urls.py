"""Pages of the e-office app (mounted at /office/)."""

from django.urls import path

from . import (
    views,
    views_exchange,
    views_partners,
    views_recall,
    views_registers,
    views_signing,
    views_workflow,
)

app_name = "office"

urlpatterns = [
    path("", views_workflow.inbox, name="inbox"),
    path("dashboard/", views_workflow.dashboard, name="dashboard"),
    path("documents/", views.document_list, name="documents"),
    path("documents/new/incoming/", views.incoming_new, name="incoming_new"),
    path("documents/new/outgoing/", views.outgoing_new, name="outgoing_new"),
    path("documents/<int:pk>/", views.document_detail, name="document"),
    path("documents/<int:pk>/edit/", views.document_edit, name="document_edit"),
    path("documents/<int:pk>/files/", views.document_upload, name="document_upload"),
    path("documents/<int:pk>/assign/", views_workflow.assign, name="assign"),
    path("documents/<int:pk>/comment/", views_workflow.comment, name="comment"),
    path("documents/<int:pk>/send-back/", views_workflow.send_back, name="send_back"),
    path("documents/<int:pk>/submit/", views_workflow.submit, name="submit"),
    path("documents/<int:pk>/issue/", views_workflow.issue, name="issue"),
    path("files/<int:pk>/", views.attachment_download, name="attachment"),
    path(
        "assignments/<int:pk>/forward/",
        views_workflow.assignment_forward,
        name="assignment_forward",
    ),
    path(
        "assignments/<int:pk>/opinion/",
        views_workflow.assignment_opinion,
        name="assignment_opinion",
    ),
    path("assignments/<int:pk>/answer/", views_workflow.opinion_give, name="opinion_give"),
    path(
        "assignments/<int:pk>/complete/",
        views_workflow.assignment_complete,
        name="assignment_complete",
    ),
    path(
        "submissions/<int:pk>/return/",
        views_workflow.submission_return,
        name="submission_return",
    ),
    path(
        "submissions/<int:pk>/approve/",
        views_workflow.submission_approve,
        name="submission_approve",
    ),
    path("registers/<str:kind>/", views_registers.register_home, name="registers"),
    path("registers/<str:kind>/<int:year>/", views_registers.register_page, name="register"),
    path(
        "registers/<str:kind>/<int:year>.xlsx",
        views_registers.register_xlsx,
        name="register_xlsx",
    ),
    path("search/", views.search, name="search"),
    path("credentials/", views_signing.credentials, name="credentials"),
    path(
        "credentials/<int:pk>/deactivate/",
        views_signing.credential_deactivate,
        name="credential_deactivate",
    ),
    path("submissions/<int:pk>/sign/", views_signing.submission_sign, name="submission_sign"),
    path(
        "submissions/<int:pk>/forward/",
        views_workflow.submission_forward,
        name="submission_forward",
    ),
    path("documents/<int:pk>/seal/", views_signing.document_seal, name="document_seal"),
    path("edxml/inbox/", views_exchange.inbox, name="edxml_inbox"),
    path("edxml/status/", views_exchange.status, name="edxml_status"),
    path("documents/<int:pk>/send/", views_exchange.send, name="document_send"),
    path("documents/<int:pk>/recall/", views_recall.recall_request, name="recall_request"),
    path("documents/<int:pk>/recall/agree/", views_recall.recall_agree, name="recall_agree"),
    path("documents/<int:pk>/recall/refuse/", views_recall.recall_refuse, name="recall_refuse"),
    path("documents/<int:pk>/update/", views_recall.update_send, name="update_send"),
    path("partners/", views_partners.partners, name="partners"),
    path("partners/new/", views_partners.partner_new, name="partner_new"),
    path("partners/<int:pk>/edit/", views_partners.partner_edit, name="partner_edit"),
    path("partners/<int:pk>/active/", views_partners.partner_active, name="partner_active"),
]
