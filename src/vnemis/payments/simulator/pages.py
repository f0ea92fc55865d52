"""The gateway's HTML pages: the payment page, the error page and the "finished" page.

Plain forms without scripts, so a test can drive them with HTTP posts or a real browser.
Vietnamese first, English beneath; every value shown is escaped.
"""

from datetime import datetime
from html import escape

from .transactions import BANKS, PAYER_RESULTS, RESULT_TEXT, VN, Transaction

STYLE = """
body{font-family:system-ui,sans-serif;background:#f4f6fa;margin:0;color:#1d2433}
main{max-width:34rem;margin:2rem auto;background:#fff;border-radius:.5rem;padding:1.5rem 2rem;
box-shadow:0 1px 4px rgba(0,0,0,.12)}h1{font-size:1.35rem;color:#004a9f;margin-top:0}
.en{color:#5b6475;font-size:.9em}dl{display:grid;grid-template-columns:max-content 1fr;gap:.4rem 1rem}
dt{color:#5b6475}dd{margin:0;font-weight:600}label{display:block;margin-top:1rem}
select{width:100%;padding:.4rem;margin-top:.25rem}.buttons{display:flex;gap:1rem;margin-top:1.5rem}
button{flex:1;padding:.7rem;border-radius:.35rem;border:0;font-size:1rem;cursor:pointer}
.pay{background:#004a9f;color:#fff}.cancel{background:#e3e6ec;color:#1d2433}
.error{border-left:4px solid #b3261e;padding-left:1rem}.code{font-family:monospace}
"""


def _page(title: str, body: str, lang: str = "vi") -> bytes:
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    ).encode()


def vnd(amount_x100: int) -> str:
    """1234500 (VND × 100) → "12.345 ₫"."""
    return f"{amount_x100 // 100:,}".replace(",", ".") + " ₫"


def _when(moment: datetime) -> str:
    return moment.astimezone(VN).strftime("%H:%M:%S %d/%m/%Y")


def payment_page(txn: Transaction) -> bytes:
    banks = "".join(f'<option value="{b}">{b}</option>' for b in BANKS)
    results = "".join(
        f'<option value="{code}">{escape(vi)} ({escape(en)})</option>'
        for code, (vi, en) in PAYER_RESULTS.items()
    )
    body = f"""
<h1>Cổng thanh toán (mô phỏng)</h1>
<p class="en" lang="en">Payment gateway (simulator)</p>
<dl>
  <dt>Đơn vị nhận tiền</dt><dd id="merchant">{escape(txn.merchant)}</dd>
  <dt>Mã giao dịch</dt><dd id="txn-ref" class="code">{escape(txn.txn_ref)}</dd>
  <dt>Nội dung</dt><dd id="order-info">{escape(txn.order_info)}</dd>
  <dt>Số tiền</dt><dd id="amount">{vnd(txn.amount)}</dd>
  <dt>Hết hạn lúc</dt><dd>{_when(txn.expires)} (GMT+7)</dd>
</dl>
<form method="post" action="/pay/confirm">
  <input type="hidden" name="txn" value="{escape(txn.token)}">
  <label for="bank">Ngân hàng <span class="en" lang="en">Bank</span></label>
  <select id="bank" name="bank">{banks}</select>
  <label for="result">Kết quả giả lập <span class="en" lang="en">Simulated result</span></label>
  <select id="result" name="result">{results}</select>
  <div class="buttons">
    <button class="pay" type="submit" name="action" value="pay">Thanh toán</button>
    <button class="cancel" type="submit" name="action" value="cancel">Hủy giao dịch</button>
  </div>
</form>"""
    return _page("Thanh toán · Payment", body)


def error_page(code: str, vi: str, en: str) -> bytes:
    body = f"""
<h1>Không thực hiện được giao dịch</h1>
<div class="error" role="alert">
  <p id="error-vi">{escape(vi)}</p>
  <p class="en" lang="en" id="error-en">{escape(en)}</p>
  <p>Mã lỗi / Error code: <span class="code" id="error-code">{escape(code)}</span></p>
</div>"""
    return _page(f"Lỗi {code} · Error {code}", body)


def finished_page(txn: Transaction) -> bytes:
    """Shown instead of the redirect when the return is lost (the payer is not sent back)."""
    vi, en = RESULT_TEXT.get(txn.response_code, ("Giao dịch đã kết thúc", "Finished"))
    body = f"""
<h1>Giao dịch đã được ghi nhận</h1>
<p class="en" lang="en">The transaction has been recorded</p>
<p>Mã giao dịch <span class="code">{escape(txn.txn_ref)}</span>:
   {escape(vi)} <span class="en" lang="en">({escape(en)})</span>.</p>
<p>Kết quả sẽ được gửi tới đơn vị nhận tiền. Bạn có thể đóng cửa sổ này.</p>
<p class="en" lang="en">The merchant will be told the result. You may close this window.</p>"""
    return _page("Đã ghi nhận · Recorded", body)
