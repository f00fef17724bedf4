"""Mandates (data accesses): validation of mock-mandate requests, defaults, filters.

One mandate per EAN, as in the sandbox where creating a mock mandate for an EAN
that already has one replaces it. Only the simulator's own controls can add a
live-style EAN (with a MeterSpec); the mock endpoint refuses them as the sandbox does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from .eans import (
    VH_DAG,
    VH_KWARTIER_UUR,
    EanError,
    Meter,
    MeterSpec,
    live_meter,
    parse_mock_ean,
)
from .errors import ValidationError
from .timeutil import format_utc, history_limit, parse_utc, shift_months

STATUSES = ("Requested", "Approved", "Rejected", "Finished")
ACCESS_STATUSES = frozenset({"Approved", "Finished"})
RENEWAL_STATUSES = ("ToBeRenewed", "RenewalRequested", "Expired")
ENERGY_TYPES = ("E", "G")
DATA_SERVICE_TYPES = (VH_DAG, VH_KWARTIER_UUR)
# The seed's mock-mandate table prints the quarter-hour access as "VH_kwartier".
_DATA_SERVICE_ALIASES = {"vh_kwartier": VH_KWARTIER_UUR}

ACCESS_YEARS = 3
RENEWAL_WINDOW_MONTHS = 3


@dataclass(slots=True)
class Mandate:
    """A data access for one EAN."""

    meter: Meter
    status: str
    data_service_type: str
    data_period_from: datetime
    data_period_to: datetime | None
    mandate_expiration_date: datetime
    renewal_status: str | None  # explicitly set; otherwise derived from the clock
    reference_number: str | None
    last_updated: datetime

    @property
    def ean(self) -> str:
        """The mandate's EAN."""
        return self.meter.ean

    @property
    def energy_type(self) -> str:
        """`E` or `G`."""
        return self.meter.energy_type

    @property
    def has_access(self) -> bool:
        """Only Approved and Finished mandates release data."""
        return self.status in ACCESS_STATUSES

    def effective_renewal_status(self, now: datetime) -> str | None:
        """Explicit status, else Expired / ToBeRenewed in the last three months, else none."""
        if self.renewal_status is not None:
            return self.renewal_status
        if now >= self.mandate_expiration_date:
            return "Expired"
        if now >= shift_months(self.mandate_expiration_date, -RENEWAL_WINDOW_MONTHS):
            return "ToBeRenewed"
        return None

    def to_json(self, now: datetime) -> dict[str, str]:
        """The GET mandate representation; absent fields are left out."""
        out: dict[str, str] = {}
        if self.reference_number is not None:
            out["referenceNumber"] = self.reference_number
        out["status"] = self.status
        if self.has_access:
            out["ean"] = self.ean
            out["energyType"] = self.energy_type
        out["dataPeriodFrom"] = format_utc(self.data_period_from)
        if self.data_period_to is not None:
            out["dataPeriodTo"] = format_utc(self.data_period_to)
        out["dataServiceType"] = self.data_service_type
        out["mandateExpirationDate"] = format_utc(self.mandate_expiration_date)
        renewal = self.effective_renewal_status(now)
        if renewal is not None:
            out["renewalStatus"] = renewal
        return out


def canonical(value: str, allowed: Iterable[str]) -> str | None:
    """The allowed spelling of an enum value compared case-insensitively, or None."""
    folded = value.casefold()
    for option in allowed:
        if option.casefold() == folded:
            return option
    return None


def _enum(
    name: str,
    value: object,
    allowed: tuple[str, ...],
    errors: list[str],
    aliases: Mapping[str, str] | None = None,
) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        found = canonical(value, allowed)
        if found is None and aliases is not None:
            found = aliases.get(value.casefold())
        if found is not None:
            return found
    errors.append(f"'{name}' must be one of {', '.join(allowed)}")
    return None


def _moment(name: str, value: object, errors: list[str]) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            errors.append(f"'{name}' must be timezone-aware")
            return None
        return value
    if isinstance(value, str):
        try:
            return parse_utc(value)
        except ValueError as err:
            errors.append(f"'{name}': {err}")
            return None
    errors.append(f"'{name}' must be a UTC datetime string YYYY-MM-DDTHH:MM:SSZ")
    return None


def build_mandate(
    now: datetime,
    *,
    ean: object,
    status: object,
    energy_type: object = None,
    data_service_type: object = None,
    data_period_from: object = None,
    data_period_to: object = None,
    mandate_expiration_date: object = None,
    renewal_status: object = None,
    reference_number: object = None,
    spec: MeterSpec | None = None,
) -> Mandate:
    """Validate a mock-mandate request and fill in the defaults; raise ValidationError.

    With `spec`, `ean` is a live-style EAN and the spec gives its meter.
    """
    errors: list[str] = []
    meter: Meter | None = None
    if not isinstance(ean, str) or not ean:
        errors.append("'ean' is required")
    else:
        try:
            meter = parse_mock_ean(ean) if spec is None else live_meter(ean, spec)
        except EanError as err:
            errors.extend(err.messages)
    if status is None:
        errors.append("'status' is required")
    status_value = _enum("status", status, STATUSES, errors)
    energy = _enum("energyType", energy_type, ENERGY_TYPES, errors)
    service = _enum(
        "dataServiceType", data_service_type, DATA_SERVICE_TYPES, errors, _DATA_SERVICE_ALIASES
    )
    renewal = _enum("renewalStatus", renewal_status, RENEWAL_STATUSES, errors)
    period_from = _moment("dataPeriodFrom", data_period_from, errors)
    period_to = _moment("dataPeriodTo", data_period_to, errors)
    expiry = _moment("mandateExpirationDate", mandate_expiration_date, errors)
    if reference_number is not None and not isinstance(reference_number, str):
        errors.append("'referenceNumber' must be a string")
    if meter is not None:
        energy_source, service_source = (
            ("the meter", "the meter") if meter.live else ("ean digit 6", "ean digit 8")
        )
        if energy is not None and energy != meter.energy_type:
            errors.append(
                f"'energyType' {energy} does not match {energy_source} ({meter.energy_type})"
            )
        if service is not None and service != meter.data_service_type:
            errors.append(
                f"'dataServiceType' {service} does not match {service_source} "
                f"({meter.data_service_type})"
            )
    whole_now = now.replace(microsecond=0)
    period_from = period_from or history_limit(now)
    if period_to is not None and period_to <= period_from:
        errors.append("'dataPeriodTo' must be later than 'dataPeriodFrom'")
    if errors or meter is None or status_value is None:
        raise ValidationError(errors)
    return Mandate(
        meter=meter,
        status=status_value,
        data_service_type=meter.data_service_type,
        data_period_from=period_from,
        data_period_to=period_to,
        mandate_expiration_date=expiry or shift_months(whole_now, 12 * ACCESS_YEARS),
        renewal_status=renewal,
        reference_number=reference_number if isinstance(reference_number, str) else None,
        last_updated=now,
    )


def mandate_from_body(now: datetime, body: object, *, live: bool = False) -> Mandate:
    """Build a mandate from a POST mock-mandate JSON body.

    `live`: the body may carry a `meter` object (a MeterSpec) for a live-style EAN;
    the mock endpoint passes False and so refuses such EANs like the sandbox.
    """
    if not isinstance(body, dict):
        raise ValidationError(["the request body must be a JSON object"])
    fields = {str(k).casefold(): v for k, v in body.items()}
    spec: MeterSpec | None = None
    if live and fields.get("meter") is not None:
        try:
            spec = MeterSpec.from_dict(fields["meter"])
        except EanError as err:
            raise ValidationError(err.messages) from None
    return build_mandate(
        now,
        ean=fields.get("ean"),
        status=fields.get("status"),
        energy_type=fields.get("energytype"),
        data_service_type=fields.get("dataservicetype"),
        data_period_from=fields.get("dataperiodfrom"),
        data_period_to=fields.get("dataperiodto"),
        mandate_expiration_date=fields.get("mandateexpirationdate"),
        renewal_status=fields.get("renewalstatus"),
        reference_number=fields.get("referencenumber"),
        spec=spec,
    )


def filter_mandates(
    mandates: Iterable[Mandate], query: Mapping[str, list[str]], now: datetime
) -> list[Mandate]:
    """Apply the GET mandate filters; `query` has case-folded names and split values."""
    errors: list[str] = []

    def single(name: str) -> str | None:
        values = query.get(name.casefold(), [])
        if len(values) > 1:
            errors.append(f"'{name}' may be given only once")
        return values[0] if values else None

    def single_enum(name: str, allowed: tuple[str, ...]) -> str | None:
        return _enum(name, single(name), allowed, errors)

    reference = single("referenceNumber")
    status = single_enum("status", STATUSES)
    ean = single("ean")
    if ean is not None and not (len(ean) == 18 and ean.isdigit()):
        errors.append("'ean' must be exactly 18 digits")
    energy = single_enum("energyType", ENERGY_TYPES)
    services = {
        s
        for v in query.get("dataservicetypes", [])
        if (s := _enum("dataServiceTypes", v, DATA_SERVICE_TYPES, errors)) is not None
    }
    if len(query.get("dataservicetypes", [])) > 2:
        errors.append("'dataServiceTypes' accepts at most 2 values")
    expiry = _moment("mandateExpirationDate", single("mandateExpirationDate"), errors)
    renewal = single_enum("renewalStatus", RENEWAL_STATUSES)
    updated_from = _moment("lastUpdatedFrom", single("lastUpdatedFrom"), errors)
    updated_to = _moment("lastUpdatedTo", single("lastUpdatedTo"), errors)
    if errors:
        raise ValidationError(errors)
    out = []
    for m in mandates:
        if reference is not None and m.reference_number != reference:
            continue
        if status is not None and m.status != status:
            continue
        if ean is not None and m.ean != ean:
            continue
        if energy is not None and m.energy_type != energy:
            continue
        if services and m.data_service_type not in services:
            continue
        # The seed does not say how this filter compares; "expires at or before" is
        # the useful reading (find accesses that need renewal).
        if expiry is not None and m.mandate_expiration_date > expiry:
            continue
        if renewal is not None and m.effective_renewal_status(now) != renewal:
            continue
        if updated_from is not None and m.last_updated < updated_from:
            continue
        if updated_to is not None and m.last_updated >= updated_to:
            continue
        out.append(m)
    return out
