"""What to ask the API for an EAN: the detail its mandate allows and the energy the options want."""

from __future__ import annotations

from .api import ComplexEnergyType, DataServiceType, EnergyType, Granularity, Mandate


def granularities(mandate: Mandate) -> tuple[Granularity, ...]:
    """Daily always, plus quarter-hours/hours where the access allows them.

    Day and night registers only come in daily slices: without them the history
    import and late-data polls would leave those statistics with gaps.
    """
    if mandate.data_service_type == DataServiceType.QUARTER_HOURLY:
        return (Granularity.HOURLY_QUARTERHOURLY, Granularity.DAILY)
    return (Granularity.DAILY,)


def complex_types(mandate: Mandate, *, include_reactive: bool) -> tuple[ComplexEnergyType, ...]:
    """Ask reactive energy of every electricity EAN when it is wanted.

    The API ignores the parameter for gas and digital meters, so no meter kind
    (unknown before the first answer) is needed to ask it.
    """
    if include_reactive and mandate.energy_type == EnergyType.ELECTRICITY:
        return (ComplexEnergyType.ACTIVE, ComplexEnergyType.REACTIVE)
    return ()
