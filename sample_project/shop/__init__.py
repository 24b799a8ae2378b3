"""The shop: a consumer of the orders API (resilient httpx client) and the messaging around orders."""
