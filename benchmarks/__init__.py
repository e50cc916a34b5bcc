"""crmcore's benchmark scripts, the synthetic CRM generator and the peer runners (not shipped)."""

__all__: list[str] = []
