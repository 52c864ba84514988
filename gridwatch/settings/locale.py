"""The city's locale: the default language, the time zone times are shown in, and the datum of the grid map."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from gridwatch.settings.base import Strict, check_zone


class LocaleSettings(Strict):
    language: Literal["zh_CN", "en"] = Field(
        default="zh_CN", description="Default language of the wall and API (each browser may switch to the other)."
    )
    timezone: str = Field(
        default="Asia/Shanghai", description="IANA time zone that times are shown in (they are stored in UTC)."
    )
    grids_datum: Literal["wgs84", "gcj02", "bd09", "cgcs2000"] = Field(
        default="wgs84",
        description="Datum of grids_file: gcj02 for AMap/Tencent maps, bd09 for Baidu; converted to WGS-84 on import.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        return check_zone(v, "; use an IANA name such as Asia/Shanghai")
