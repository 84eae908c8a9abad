"""One adapter per input format; each turns a raw file into canonical events.

Every adapter module (``canonical``, ``ucdp_ged``, ``acled``, ``points``) exposes
``read(ctx: SourceContext) -> SourceResult``: the kept events in the contract of
:mod:`model.data.schema`, the quarantined rows (``source, file, line, field, value, reason``) and
the source's metrics; its ``ACTORS`` names its (actor, associates) columns. Reading
(:mod:`.reading`), actor → side mapping (:mod:`.sides`) and the field checks and region
placement (:mod:`.common`) are shared; :mod:`.actors` lists a file's actors with their sides and
summarises side coverage; ``positions`` reads the force positions table.
"""
