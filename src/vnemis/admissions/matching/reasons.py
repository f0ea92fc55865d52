"""Why a candidate missed a wish ranked above their placement (or any wish, when unplaced).

Every refusal is explained by the programme's final state, because thresholds only rise:
a wish refused at some moment of the run is still below the threshold at the end.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class Reason(IntEnum):
    BELOW_CUTOFF = 1
    LOST_ON_WISH_ORDER = 2
    TIED_AT_BOUNDARY = 3
    NO_PLACES = 4

    @property
    def code(self) -> str:
        return self.name.lower()

    @property
    def vi(self) -> str:
        return TEXTS[self][0]

    @property
    def en(self) -> str:
        return TEXTS[self][1]


TEXTS = {
    Reason.BELOW_CUTOFF: (
        "điểm xét tuyển thấp hơn điểm chuẩn",
        "the admission score is below the programme's cut-off score",
    ),
    Reason.LOST_ON_WISH_ORDER: (
        "bằng điểm chuẩn nhưng xếp ngành này ở thứ tự nguyện vọng thấp hơn thí sinh trúng tuyển cuối",
        "tied with the cut-off score, but ranked the programme lower than the last admitted "
        "candidate (wish-order criterion)",
    ),
    Reason.TIED_AT_BOUNDARY: (
        "bằng điểm và thứ tự nguyện vọng với các thí sinh ở ngưỡng chỉ tiêu; ngành không nhận "
        "nhóm bằng nhau vượt chỉ tiêu",
        "fully tied with the candidates at the quota boundary, and the programme admits none "
        "of a tied group that would exceed its quota",
    ),
    Reason.NO_PLACES: ("ngành có chỉ tiêu bằng 0", "the programme has no places (quota 0)"),
}

CODES = ("", *(reason.code for reason in Reason))  # indexed by the Reason value


def reasons_classify(
    *,
    programme: np.ndarray,
    key: np.ndarray,
    quotas: np.ndarray,
    ties_all: np.ndarray,
    admitted: np.ndarray,
    cutoff_key: np.ndarray,
    boundary_key: np.ndarray,
    rank_span: int,
) -> np.ndarray:
    """The Reason (as int8) of each refused wish, given its programme's final state.

    ``cutoff_key`` is the key of the last admitted applicant (-1 when none was admitted);
    ``boundary_key`` is, under the ``none`` rule, the key of the tie group left out at the
    quota boundary (-1 otherwise).
    """
    reason = np.full(len(key), Reason.BELOW_CUTOFF, dtype=np.int8)
    boundary = boundary_key[programme]
    tied = (
        ~ties_all[programme]
        & (admitted[programme] < quotas[programme])
        & (key == boundary)
        & (boundary >= 0)
    )
    # Compared with the last admitted applicant; when no one got in (a tie group filled the
    # boundary of a `none` programme), with the group left out.
    reference = np.where(admitted[programme] > 0, cutoff_key[programme], boundary)
    same_score = key // rank_span == reference // rank_span
    reason[same_score] = Reason.LOST_ON_WISH_ORDER
    reason[tied] = Reason.TIED_AT_BOUNDARY
    reason[quotas[programme] == 0] = Reason.NO_PLACES
    return reason
