"""The one error the matching engine and its file readers raise: input it cannot match on."""


class MatchInputError(ValueError):
    """Input refused before anything is matched or written, in Vietnamese and English.

    ``file``, ``line`` and ``column`` locate the problem in a CSV file (line 1 is the header);
    ``wish`` is the index of the offending wish in the arrays given to ``match``, so a caller
    holding another source (the file reader, a Django job) can translate it to its own terms;
    ``duplicate`` says that wish repeats an earlier one of the same candidate.
    """

    def __init__(
        self,
        vi: str,
        en: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: str | None = None,
        wish: int | None = None,
        duplicate: bool = False,
    ):
        self.vi, self.en = vi, en
        self.file, self.line, self.column, self.wish = file, line, column, wish
        self.duplicate = duplicate  # the wish repeats another one (same rank or programme)
        super().__init__(str(self))

    def located(self, *, file: str, line: int | None = None, column: str | None = None):
        """The same error, placed in a file."""
        return MatchInputError(self.vi, self.en, file=file, line=line, column=column)

    def __str__(self) -> str:
        where_vi, where_en = [], []
        if self.file:
            where_vi.append(f"tệp {self.file}")
            where_en.append(f"file {self.file}")
        if self.line is not None:
            where_vi.append(f"dòng {self.line}")
            where_en.append(f"line {self.line}")
        if self.column:
            where_vi.append(f"cột '{self.column}'")
            where_en.append(f"column '{self.column}'")
        vi = f"{', '.join(where_vi)}: {self.vi}" if where_vi else self.vi
        en = f"{', '.join(where_en)}: {self.en}" if where_en else self.en
        return f"{vi} / {en}"
