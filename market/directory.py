"""The market's reference data as the flows see it (loaded once, it rarely changes)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from basics.market_views import AreaView, MarketView, TradeView
from basics.phones import spoken_number
from store.models import Area, Market, Trade
from store.statuses import AreaKind


async def load_market_view(
    session: AsyncSession, market: Market, agent_numbers: tuple[str, ...], hotline: str
) -> MarketView:
    """`hotline`: the number workers call (E.164), as SMS and prompts name it."""
    trades = await session.scalars(
        select(Trade).where(Trade.market_id == market.id).order_by(Trade.position)
    )
    areas = list(
        await session.scalars(
            select(Area).where(Area.market_id == market.id).order_by(Area.position, Area.id)
        )
    )
    districts = tuple(
        AreaView(
            id=d.id,
            name=d.name,
            towns=tuple(AreaView(id=t.id, name=t.name, synonyms=tuple(t.synonyms or ()))
                        for t in areas if t.parent_id == d.id),
            synonyms=tuple(d.synonyms or ()),
        )
        for d in areas
        if d.kind == AreaKind.DISTRICT
    )
    return MarketView(
        name=market.name,
        hotline=spoken_number(hotline),
        trades=tuple(TradeView(code=t.code, name=t.name, synonyms=tuple(t.synonyms or ()))
                     for t in trades),
        districts=districts,
        agent_numbers=agent_numbers,
    )
