"""The household file's columns: headers, allowed values, limits, and the text read.

`ALIASES` maps each column's canonical name to the headers it may have
(Chinese or English); `Source` holds the recognised columns of one file as
Arrow text. The value vocabularies and length limits here are what the
validation (`geogrid.ingest.households.validation`) checks cells against.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from geogrid.errors import InvalidInput
from geogrid.ingest.columns import map_columns
from geogrid.ingest.readers import strip_cells

ALIASES: dict[str, tuple[str, ...]] = {
    "household_no": ("户号", "户编号", "家庭编号", "household_id", "household"),
    "address": ("地址", "住址", "家庭住址", "家庭地址", "addr"),
    "village_code": ("村代码", "村编码", "村居代码", "行政村代码", "村级代码"),
    "lon": ("经度", "lng", "longitude", "x"),
    "lat": ("纬度", "latitude", "y"),
    "name": ("姓名", "客户姓名", "名字"),
    "id_number": ("身份证号", "身份证号码", "证件号码", "公民身份号码", "id_no"),
    "phone": ("手机号", "手机号码", "联系电话", "电话", "mobile", "tel"),
    "gender": ("性别", "sex"),
    "status": ("客户状态", "客户类型", "是否我行客户", "customer_status"),
    "products": ("持有产品", "我行产品", "产品"),
    "labels": ("标签", "客户标签", "tags"),
    "deposit_own": ("我行存款", "本行存款"),
    "loan_own": ("我行贷款", "本行贷款"),
    "deposit_other": ("他行存款",),
    "loan_other": ("他行贷款",),
    "time_window": ("可访时段", "拜访时段"),
}
REQUIRED = ("household_no", "name", "id_number")
AMOUNTS = ("deposit_own", "loan_own", "deposit_other", "loan_other")

STATUS_VALUES = {
    "customer": "customer",
    "existing": "customer",
    "客户": "customer",
    "我行客户": "customer",
    "存量客户": "customer",
    "是": "customer",
    "y": "customer",
    "yes": "customer",
    "true": "customer",
    "1": "customer",
    "potential": "potential",
    "潜在客户": "potential",
    "潜在": "potential",
    "否": "potential",
    "n": "potential",
    "no": "potential",
    "false": "potential",
    "0": "potential",
}
PRODUCT_VALUES = {
    "deposit": "deposit",
    "存款": "deposit",
    "loan": "loan",
    "贷款": "loan",
    "mobile_banking": "mobile_banking",
    "手机银行": "mobile_banking",
    "pos": "pos",
    "pos机": "pos",
    "payment": "payment",
    "收单": "payment",
    "支付": "payment",
    "聚合支付": "payment",
    "扫码支付": "payment",
    "credit_card": "credit_card",
    "信用卡": "credit_card",
}
GENDER_VALUES = {"男": "M", "m": "M", "male": "M", "女": "F", "f": "F", "female": "F"}

# longest text the store's columns hold, in characters
MAX_LENGTHS = {
    "household_no": ("household number (户号)", 40),
    "name": ("name (姓名)", 50),
    "address": ("address (地址)", 200),
    "time_window": ("visiting hours (可访时段)", 20),
}
LABEL_MAX_LENGTH = 30

# columns whose cells are compared across the file, stripped when read
_WHOLE_COLUMNS = ("household_no", "id_number", "village_code", "address")


@dataclass
class Source:
    """The file's recognised columns under canonical names, as Arrow text.

    Columns compared across the whole file are stripped of white space up
    front, the others a chunk at a time by `get`.
    """

    columns: dict[str, pa.Array | pa.ChunkedArray]
    n_rows: int

    @classmethod
    def of(cls, raw: pa.Table, source: str) -> Source:
        """Map the file's headers to canonical names; check required columns."""
        mapping = map_columns(raw.column_names, ALIASES)
        missing = [c for c in REQUIRED if c not in mapping]
        if missing:
            wanted = "; ".join(f"{c} ({'/'.join(ALIASES[c][:2])})" for c in missing)
            raise InvalidInput(
                f"{source} lacks required columns: {wanted}. Its headers are "
                f"{', '.join(map(str, raw.column_names)) or 'none'}. Rename the "
                "columns (Chinese or English headers both work) and import again.",
                missing=missing,
            )
        has_location = {"lon", "lat"} <= mapping.keys() or bool(
            {"village_code", "address"} & mapping.keys()
        )
        if not has_location:
            raise InvalidInput(
                f"{source} has no location columns: give 经度/纬度 (lon/lat), "
                "村代码 (village_code) or 地址 (address) so each household can be "
                "placed."
            )
        names = raw.column_names
        columns = {
            name: raw.column(names.index(header)) for name, header in mapping.items()
        }
        for name in _WHOLE_COLUMNS:
            if name in columns:
                columns[name] = strip_cells(columns[name])
        if "village_code" in columns:
            columns["village_code"] = _village_codes(columns["village_code"])
        return cls(columns, raw.num_rows)

    def __contains__(self, name: str) -> bool:
        return name in self.columns

    def whole(self, name: str) -> pa.Array:
        """A column of every row (one of `_WHOLE_COLUMNS`)."""
        column = self.columns[name]
        assert isinstance(column, pa.Array), f"{name} is read a chunk at a time"
        return column

    def get(self, name: str, start: int, length: int) -> pa.Array:
        """Rows ``start`` to ``start + length`` of a column, stripped."""
        column = self.columns[name].slice(start, length)
        return column if name in _WHOLE_COLUMNS else strip_cells(column)


def _village_codes(values: pa.Array) -> pa.Array:
    """Village codes as text; Excel's '331099100001.0' loses its '.0'."""
    if not pc.any(pc.ends_with(values, ".0")).as_py():
        return values
    return pc.replace_substring_regex(values, r"\.0$", "")
