"""Campaigns, creatives and coupons: what the splash page shows and what shoppers claim."""
