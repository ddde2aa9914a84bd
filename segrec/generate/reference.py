"""Static reference data of the synthetic shop: countries, currencies, cities, catalog
taxonomy, brands, user agents and the spellings (aliases) the raw data uses.

The seeds the warehouse needs (country regions, currency rates, event and device aliases,
bot user agents, promotion catalog) must agree with these values; ``params.json`` in the
truth folder records them so a test can compare the two.
"""

from __future__ import annotations

# ISO-2 code -> (full name, currency, fixed UTC offset in hours, region). Offsets ignore
# daylight saving so the seed `country_regions.csv` can hold one number per country.
COUNTRIES: dict[str, tuple[str, str, int, str]] = {
    "US": ("United States", "USD", -5, "North America"),
    "GB": ("United Kingdom", "GBP", 0, "Europe"),
    "DE": ("Germany", "EUR", 1, "Europe"),
    "FR": ("France", "EUR", 1, "Europe"),
    "ES": ("Spain", "EUR", 1, "Europe"),
    "IT": ("Italy", "EUR", 1, "Europe"),
    "NL": ("Netherlands", "EUR", 1, "Europe"),
    "SE": ("Sweden", "SEK", 1, "Europe"),
    "BR": ("Brazil", "BRL", -3, "Latin America"),
    "CA": ("Canada", "CAD", -5, "North America"),
    "AU": ("Australia", "AUD", 10, "Asia-Pacific"),
    "JP": ("Japan", "JPY", 9, "Asia-Pacific"),
}
COUNTRY_CODES: tuple[str, ...] = tuple(COUNTRIES)

# Value of one unit of the currency in USD (the base currency): base = local * rate.
CURRENCY_RATES: dict[str, float] = {
    "USD": 1.0, "GBP": 1.27, "EUR": 1.08, "SEK": 0.095, "BRL": 0.18,
    "CAD": 0.73, "AUD": 0.66, "JPY": 0.0067,
}
# Prices in these currencies have no minor unit.
ZERO_DECIMAL_CURRENCIES: frozenset[str] = frozenset({"JPY"})

# The first BIG_CITIES cities of each country are its big cities (the urban persona lives there).
BIG_CITIES = 2
CITIES: dict[str, tuple[str, ...]] = {
    "US": ("New York", "Los Angeles", "Chicago", "Columbus", "Boise"),
    "GB": ("London", "Manchester", "Leeds", "Norwich", "Exeter"),
    "DE": ("Berlin", "Munich", "Hamburg", "Freiburg", "Kassel"),
    "FR": ("Paris", "Lyon", "Marseille", "Tours", "Dijon"),
    "ES": ("Madrid", "Barcelona", "Valencia", "Zaragoza", "Burgos"),
    "IT": ("Milan", "Rome", "Turin", "Bologna", "Perugia"),
    "NL": ("Amsterdam", "Rotterdam", "Utrecht", "Groningen", "Zwolle"),
    "SE": ("Stockholm", "Gothenburg", "Malmo", "Uppsala", "Umea"),
    "BR": ("Sao Paulo", "Rio de Janeiro", "Curitiba", "Recife", "Natal"),
    "CA": ("Toronto", "Vancouver", "Montreal", "Halifax", "Regina"),
    "AU": ("Sydney", "Melbourne", "Brisbane", "Hobart", "Darwin"),
    "JP": ("Tokyo", "Osaka", "Yokohama", "Sendai", "Kanazawa"),
}

# Top category -> sub category -> leaves. Sub categories marked consumable are what
# replenishers re-order.
TAXONOMY: dict[str, dict[str, tuple[str, ...]]] = {
    "Women": {"Clothing": ("Dresses", "Tops", "Knitwear"), "Shoes": ("Sneakers", "Boots", "Heels"),
              "Accessories": ("Handbags", "Scarves", "Jewelry")},
    "Men": {"Clothing": ("Shirts", "Jackets", "Trousers"), "Shoes": ("Sneakers", "Boots", "Loafers"),
            "Accessories": ("Watches", "Belts", "Wallets")},
    "Beauty": {"Skincare": ("Moisturizers", "Serums", "Cleansers"),
               "Makeup": ("Lipstick", "Mascara", "Foundation"),
               "Fragrance": ("Eau de Parfum", "Eau de Toilette")},
    "Home": {"Kitchen": ("Cookware", "Knives", "Tableware"), "Decor": ("Candles", "Vases", "Frames"),
             "Household": ("Cleaning", "Laundry", "Storage")},
    "Grocery": {"Pantry": ("Coffee", "Tea", "Pasta", "Snacks"), "Fresh": ("Fruit", "Dairy"),
                "Drinks": ("Water", "Juice")},
    "Electronics": {"Audio": ("Headphones", "Speakers"), "Phones": ("Smartphones", "Cases", "Chargers"),
                    "Computing": ("Laptops", "Tablets", "Peripherals")},
    "Gifts": {"Gift Sets": ("Beauty Sets", "Chocolate Boxes", "Hampers"),
              "Cards": ("Gift Cards", "Greeting Cards"), "Experiences": ("Spa Days", "Tastings")},
    "Kids": {"Toys": ("Puzzles", "Building Sets", "Plush"), "Clothing": ("Baby", "Boys", "Girls"),
             "Books": ("Picture Books", "Activity Books")},
}
TOP_CATEGORIES: tuple[str, ...] = tuple(TAXONOMY)
CONSUMABLE_SUBCATEGORIES: frozenset[tuple[str, str]] = frozenset({
    ("Grocery", "Pantry"), ("Grocery", "Fresh"), ("Grocery", "Drinks"), ("Beauty", "Skincare"),
    ("Beauty", "Makeup"), ("Home", "Household"),
})
# Typical price of a mid-tier item per top category, in USD.
CATEGORY_BASE_PRICE: dict[str, float] = {
    "Women": 60.0, "Men": 60.0, "Beauty": 25.0, "Home": 40.0, "Grocery": 8.0,
    "Electronics": 150.0, "Gifts": 35.0, "Kids": 25.0,
}
# Categories whose products have no colour.
COLORLESS_CATEGORIES: frozenset[str] = frozenset({"Grocery", "Gifts"})

BRAND_TIERS: tuple[str, ...] = ("luxury", "mid", "budget")
# Price multiplier of each brand tier against the mid-tier base price.
TIER_PRICE_FACTOR: dict[str, float] = {"luxury": 6.0, "mid": 1.0, "budget": 0.35}
BRANDS: dict[str, tuple[str, ...]] = {
    "luxury": ("Atelier Serac", "Maison Vellore", "Castoria", "Lumen & Vane", "Ostrander", "Belcourt"),
    "mid": ("Northfield", "Harbor & Pine", "Kestrel", "Urbanista Co", "Tidewell", "Fernhill",
            "Coastline", "Arden Lane"),
    "budget": ("ValuMax", "BasicBay", "Thriftly", "EveryDay Co", "PennyPlus", "SmartPick"),
}
COLORS: tuple[str, ...] = (
    "black", "white", "navy", "red", "green", "beige", "grey", "pink", "blue", "brown", "multi",
)
MODEL_WORDS: tuple[str, ...] = ("Classic", "Essential", "Signature", "Studio", "Everyday", "Pro", "Edit")

DEVICE_TYPES: tuple[str, ...] = ("mobile", "desktop", "tablet")
# Raw spellings of each device type (the seed `device_type_aliases.csv` maps them back).
DEVICE_SPELLINGS: dict[str, tuple[str, ...]] = {
    "mobile": ("mobile", "Mobile", "smartphone"),
    "desktop": ("desktop", "Desktop", "PC"),
    "tablet": ("tablet", "iPad"),
}
# Realistic user agents per device type; inference from them (the cleaning rules of the raw
# contract, docs/raw-contract.md: ipad/tablet -> tablet, mobi/android/iphone -> mobile, else
# desktop) gives the same type.
USER_AGENTS: dict[str, tuple[str, ...]] = {
    "mobile": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Mobile Safari/537.36",
        "Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36",
    ),
    "desktop": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.4 Safari/605.1.15",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
    ),
    "tablet": (
        "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.4 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Android 13; Tablet; rv:125.0) Gecko/125.0 Firefox/125.0",
    ),
}
# Crawler user agents and the case-insensitive substrings that identify them
# (the seed `bot_user_agents.csv` must hold these substrings).
BOT_USER_AGENTS: tuple[str, ...] = (
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "python-requests/2.31.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/124.0.0.0 Safari/537.36",
)
BOT_USER_AGENT_SUBSTRINGS: tuple[str, ...] = ("googlebot", "python-requests", "headlesschrome")

# Non-canonical spellings of event types and their canonical targets (seed
# `event_type_aliases.csv`). About ALIAS_SHARE of the rows of these types use an alias.
EVENT_TYPE_ALIASES: dict[str, str] = {
    "PAGE_VIEW": "page_view", "page-view": "page_view",
    "productView": "product_view", "view": "product_view",
    "addtocart": "add_to_cart", "addToCart": "add_to_cart",
    "transaction": "purchase", "purchaseComplete": "purchase",
}

CHANNELS: tuple[str, ...] = ("organic", "paid_search", "email", "social", "direct", "referral")
PAID_SEARCH_CAMPAIGNS: tuple[str, ...] = ("PS-BRAND", "PS-GENERIC", "PS-SHOPPING")

# Promotion catalog: promotion_id -> promotion_type (seed `promotions.csv`).
PROMOTIONS: dict[str, str] = {
    "PROMO-01": "discount", "PROMO-02": "coupon", "PROMO-03": "bundle", "PROMO-04": "free_shipping",
    "PROMO-05": "discount", "PROMO-06": "coupon", "PROMO-07": "bundle", "PROMO-08": "free_shipping",
}

# Recommendation strategies shown in impressions and their click-through rates.
STRATEGY_CTR: dict[str, float] = {"als": 0.07, "popularity": 0.04, "hybrid": 0.10, "collaborative": 0.075}

FIRST_NAMES: tuple[str, ...] = (
    "Anna", "Ben", "Carla", "David", "Elena", "Felix", "Grace", "Hugo", "Ines", "Jonas", "Kenji",
    "Laura", "Marco", "Nina", "Oscar", "Paula", "Rafael", "Sofia", "Tom", "Yuki",
)
LAST_NAMES: tuple[str, ...] = (
    "Lee", "Smith", "Muller", "Martin", "Garcia", "Rossi", "de Vries", "Larsson", "Silva", "Brown",
    "Tanaka", "Wilson", "Schmidt", "Bernard", "Lopez", "Bianchi", "Jansen", "Nilsson", "Costa", "Sato",
)
EMAIL_DOMAINS: tuple[str, ...] = ("example.com", "example.org", "example.net", "mail.example")
