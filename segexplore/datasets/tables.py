"""Reference tables of the sample-data generator: places, names, brands and personas.

This module owns the static data :mod:`segexplore.datasets.generate` draws from: French and
Belgian cities with their postal codes, departments, regions, device and language
profiles; first and last names; e-mail domains; brands, categories, basket prices and
interest tags; signup sources and loyalty tiers; the hidden behaviour personas and the
hour-of-day weights. It also holds ``_choice``, the weighted draw over such tables that
both the generator and the messy exports of :mod:`segexplore.datasets.raw` use.
Nothing here is random by itself: the same tables and seed give the same base.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "BRANDS",
    "CATEGORIES",
    "DEVICES",
    "INTEREST_TAGS",
    "LANGUAGES",
    "LOYALTY_TIERS",
    "SIGNUP_SOURCES",
]

#: Seconds in a day: the generator draws times in seconds.
_DAY = 86_400

# ---------------------------------------------------------------------------------
# Reference tables. Cities: (name, postal codes, department or province, region,
# country, weight ~ inhabitants in thousands, device profile, language profile).
# ---------------------------------------------------------------------------------
_IDF, _ARA, _PACA = "Île-de-France", "Auvergne-Rhône-Alpes", "Provence-Alpes-Côte d'Azur"
_OCC, _NAQ, _PDL, _BRE = "Occitanie", "Nouvelle-Aquitaine", "Pays de la Loire", "Bretagne"
_HDF, _GE, _BFC, _NOR = "Hauts-de-France", "Grand Est", "Bourgogne-Franche-Comté", "Normandie"
_CVL, _COR = "Centre-Val de Loire", "Corse"
_BXL, _FLA, _WAL = "Bruxelles-Capitale", "Flandre", "Wallonie"


def _codes(*codes: int | str, width: int = 5) -> tuple[str, ...]:
    return tuple(str(c).zfill(width) for c in codes)


_CITIES: tuple[tuple[str, tuple[str, ...], str, str, str, float, str, str], ...] = (
    ("Paris", _codes(*range(75001, 75021)), "Paris", _IDF, "FR", 2100, "ios", "fr"),
    ("Boulogne-Billancourt", _codes(92100), "Hauts-de-Seine", _IDF, "FR", 120, "ios", "fr"),
    ("Versailles", _codes(78000), "Yvelines", _IDF, "FR", 85, "ios", "fr"),
    ("Saint-Denis", _codes(93200, 93210), "Seine-Saint-Denis", _IDF, "FR", 113, "android", "fr"),
    ("Montreuil", _codes(93100), "Seine-Saint-Denis", _IDF, "FR", 110, "mixed", "fr"),
    ("Créteil", _codes(94000), "Val-de-Marne", _IDF, "FR", 92, "mixed", "fr"),
    ("Argenteuil", _codes(95100), "Val-d'Oise", _IDF, "FR", 111, "android", "fr"),
    ("Lyon", _codes(*range(69001, 69010)), "Rhône", _ARA, "FR", 520, "ios", "fr"),
    ("Grenoble", _codes(38000, 38100), "Isère", _ARA, "FR", 158, "mixed", "fr"),
    ("Saint-Étienne", _codes(42000, 42100), "Loire", _ARA, "FR", 173, "android", "fr"),
    ("Clermont-Ferrand", _codes(63000, 63100), "Puy-de-Dôme", _ARA, "FR", 147, "mixed", "fr"),
    ("Annecy", _codes(74000), "Haute-Savoie", _ARA, "FR", 130, "ios", "fr"),
    ("Bourg-en-Bresse", _codes(1000), "Ain", _ARA, "FR", 41, "mixed", "fr"),
    ("Vichy", _codes(3200), "Allier", _ARA, "FR", 25, "android", "fr"),
    ("Privas", _codes(7000), "Ardèche", _ARA, "FR", 8, "android", "fr"),
    ("Marseille", _codes(*range(13001, 13017)), "Bouches-du-Rhône", _PACA, "FR", 870,
     "android", "fr"),
    ("Aix-en-Provence", _codes(13090, 13100), "Bouches-du-Rhône", _PACA, "FR", 145, "ios", "fr"),
    ("Nice", _codes(6000, 6100, 6200, 6300), "Alpes-Maritimes", _PACA, "FR", 342, "mixed", "fr"),
    ("Toulon", _codes(83000, 83100, 83200), "Var", _PACA, "FR", 180, "android", "fr"),
    ("Avignon", _codes(84000), "Vaucluse", _PACA, "FR", 91, "android", "fr"),
    ("Gap", _codes(5000), "Hautes-Alpes", _PACA, "FR", 40, "mixed", "fr"),
    ("Digne-les-Bains", _codes(4000), "Alpes-de-Haute-Provence", _PACA, "FR", 16, "mixed", "fr"),
    ("Toulouse", _codes(*range(31000, 31600, 100)), "Haute-Garonne", _OCC, "FR", 500,
     "mixed", "fr"),
    ("Montpellier", _codes(34000, 34070, 34080, 34090), "Hérault", _OCC, "FR", 300, "mixed", "fr"),
    ("Nîmes", _codes(30000, 30900), "Gard", _OCC, "FR", 150, "android", "fr"),
    ("Perpignan", _codes(66000, 66100), "Pyrénées-Orientales", _OCC, "FR", 120, "android", "fr"),
    ("Foix", _codes(9000), "Ariège", _OCC, "FR", 10, "android", "fr"),
    ("Bordeaux", _codes(33000, 33100, 33200, 33300, 33800), "Gironde", _NAQ, "FR", 260,
     "ios", "fr"),
    ("Limoges", _codes(87000, 87100, 87280), "Haute-Vienne", _NAQ, "FR", 130, "android", "fr"),
    ("Poitiers", _codes(86000), "Vienne", _NAQ, "FR", 89, "mixed", "fr"),
    ("La Rochelle", _codes(17000), "Charente-Maritime", _NAQ, "FR", 77, "mixed", "fr"),
    ("Pau", _codes(64000), "Pyrénées-Atlantiques", _NAQ, "FR", 76, "mixed", "fr"),
    ("Nantes", _codes(44000, 44100, 44200, 44300), "Loire-Atlantique", _PDL, "FR", 320,
     "mixed", "fr"),
    ("Angers", _codes(49000, 49100), "Maine-et-Loire", _PDL, "FR", 157, "mixed", "fr"),
    ("Le Mans", _codes(72000, 72100), "Sarthe", _PDL, "FR", 145, "android", "fr"),
    ("Rennes", _codes(35000, 35200, 35700), "Ille-et-Vilaine", _BRE, "FR", 222, "mixed", "fr"),
    ("Brest", _codes(29200), "Finistère", _BRE, "FR", 140, "android", "fr"),
    ("Lille", _codes(59000, 59160, 59260, 59800), "Nord", _HDF, "FR", 236, "android", "fr"),
    ("Amiens", _codes(80000, 80080, 80090), "Somme", _HDF, "FR", 134, "android", "fr"),
    ("Laon", _codes(2000), "Aisne", _HDF, "FR", 25, "android", "fr"),
    ("Strasbourg", _codes(67000, 67100, 67200), "Bas-Rhin", _GE, "FR", 290, "mixed", "fr"),
    ("Reims", _codes(51100), "Marne", _GE, "FR", 180, "android", "fr"),
    ("Metz", _codes(57000, 57050, 57070), "Moselle", _GE, "FR", 120, "android", "fr"),
    ("Nancy", _codes(54000, 54100), "Meurthe-et-Moselle", _GE, "FR", 105, "android", "fr"),
    ("Troyes", _codes(10000), "Aube", _GE, "FR", 62, "android", "fr"),
    ("Charleville-Mézières", _codes(8000), "Ardennes", _GE, "FR", 46, "android", "fr"),
    ("Dijon", _codes(21000), "Côte-d'Or", _BFC, "FR", 159, "mixed", "fr"),
    ("Besançon", _codes(25000), "Doubs", _BFC, "FR", 117, "mixed", "fr"),
    ("Rouen", _codes(76000, 76100), "Seine-Maritime", _NOR, "FR", 114, "mixed", "fr"),
    ("Le Havre", _codes(76600), "Seine-Maritime", _NOR, "FR", 166, "android", "fr"),
    ("Caen", _codes(14000), "Calvados", _NOR, "FR", 106, "mixed", "fr"),
    ("Tours", _codes(37000, 37100, 37200), "Indre-et-Loire", _CVL, "FR", 136, "mixed", "fr"),
    ("Orléans", _codes(45000, 45100), "Loiret", _CVL, "FR", 116, "mixed", "fr"),
    ("Ajaccio", _codes(20000, 20090), "Corse-du-Sud", _COR, "FR", 72, "android", "fr"),
    ("Bastia", _codes(20200, 20600), "Haute-Corse", _COR, "FR", 48, "android", "fr"),
    ("Bruxelles", _codes(1000, 1020, 1120, 1130, width=4), _BXL, _BXL, "BE", 300, "ios", "bxl"),
    ("Ixelles", _codes(1050, width=4), _BXL, _BXL, "BE", 87, "ios", "bxl"),
    ("Schaerbeek", _codes(1030, width=4), _BXL, _BXL, "BE", 133, "android", "bxl"),
    ("Antwerpen", _codes(2000, 2018, 2060, width=4), "Anvers", _FLA, "BE", 530, "mixed", "nl"),
    ("Mechelen", _codes(2800, width=4), "Anvers", _FLA, "BE", 87, "mixed", "nl"),
    ("Gent", _codes(9000, 9030, 9040, 9050, width=4), "Flandre-Orientale", _FLA, "BE", 265,
     "ios", "nl"),
    ("Brugge", _codes(8000, 8200, 8310, width=4), "Flandre-Occidentale", _FLA, "BE", 119,
     "mixed", "nl"),
    ("Kortrijk", _codes(8500, width=4), "Flandre-Occidentale", _FLA, "BE", 77, "mixed", "nl"),
    ("Oostende", _codes(8400, width=4), "Flandre-Occidentale", _FLA, "BE", 72, "android", "nl"),
    ("Leuven", _codes(3000, 3001, 3010, width=4), "Brabant flamand", _FLA, "BE", 102, "ios", "nl"),
    ("Hasselt", _codes(3500, width=4), "Limbourg", _FLA, "BE", 79, "mixed", "nl"),
    ("Liège", _codes(4000, 4020, 4030, width=4), "Liège", _WAL, "BE", 197, "android", "wal"),
    ("Eupen", _codes(4700, width=4), "Liège", _WAL, "BE", 20, "android", "de"),
    ("Namur", _codes(5000, 5100, width=4), "Namur", _WAL, "BE", 111, "android", "wal"),
    ("Charleroi", _codes(6000, 6001, 6010, width=4), "Hainaut", _WAL, "BE", 202, "android", "wal"),
    ("Mons", _codes(7000, width=4), "Hainaut", _WAL, "BE", 96, "android", "wal"),
    ("Tournai", _codes(7500, width=4), "Hainaut", _WAL, "BE", 69, "android", "wal"),
    ("Wavre", _codes(1300, width=4), "Brabant wallon", _WAL, "BE", 35, "ios", "wal"),
    ("Louvain-la-Neuve", _codes(1348, width=4), "Brabant wallon", _WAL, "BE", 30, "ios", "wal"),
    ("Arlon", _codes(6700, width=4), "Luxembourg", _WAL, "BE", 30, "mixed", "wal"),
)

DEVICES = ("iOS", "Android", "Desktop")
_DEVICE_PROFILES = {"ios": (0.52, 0.30, 0.18), "mixed": (0.36, 0.44, 0.20),
                    "android": (0.24, 0.58, 0.18)}
LANGUAGES = ("fr", "nl", "en", "de")
_LANGUAGE_PROFILES = {"fr": (0.965, 0.0, 0.03, 0.005), "nl": (0.07, 0.86, 0.065, 0.005),
                      "bxl": (0.72, 0.12, 0.15, 0.01), "wal": (0.94, 0.02, 0.03, 0.01),
                      "de": (0.25, 0.0, 0.05, 0.70)}

_FR_FEMALE = (
    "Marie Camille Léa Chloé Manon Emma Sarah Julie Laura Pauline Inès Clara Lucie Hélène "
    "Céline Aurélie Émilie Élodie Mélanie Amélie Nathalie Isabelle Sophie Sandrine Valérie "
    "Stéphanie Christine Catherine Anne Agnès Noémie Zoé Maëlle Gaëlle Anaïs Océane "
    "Margaux "
    "Juliette Louise Jade Alice Léna Mathilde Charlotte Élise Béatrice Geneviève Françoise "
    "Brigitte Sylvie Yasmine Fatima Anaëlle Héloïse Capucine"
).split()
_FR_MALE = (
    "Jean Pierre Nicolas Thomas Julien Alexandre Maxime Antoine Hugo Lucas Louis Gabriel "
    "Arthur Théo Léo Raphaël Mathéo Clément Jérôme Stéphane Frédéric François Loïc "
    "Benoît "
    "Hervé Rémi Joël Sébastien Laurent Philippe Patrick Michel Christophe Olivier Éric "
    "Mathieu Guillaume Romain Quentin Baptiste Adrien Valentin Noé Aurélien Grégoire "
    "Jean-Pierre Jean-Luc Mohamed Karim Sofiane Yannick Gaël Cédric"
).split()
_NL_FEMALE = (
    "Lotte Emma Louise Marie Noor Lien Fien Ine Sofie Ellen Liesbeth Annelies Els An Katrien "
    "Griet Saartje Femke Hanne Jana Zoë Chloë Elise Lisa Nele Eline Amber"
).split()
_NL_MALE = (
    "Lars Wout Pieter Jens Bram Thijs Stijn Koen Joris Jef Maarten Sander Arne Ruben Jonas "
    "Wim Dirk Bart Kris Geert Seppe Rik Tom Jan Kobe Senne Matthias"
).split()
_FR_LAST = (
    "Martin,Bernard,Dubois,Thomas,Robert,Richard,Petit,Durand,Leroy,Moreau,Simon,Laurent,"
    "Lefèvre,Michel,Garcia,David,Bertrand,Roux,Vincent,Fournier,Morel,Girard,André,Lefebvre,"
    "Mercier,Dupont,Lambert,Bonnet,François,Martinez,Legrand,Garnier,Faure,Rousseau,Blanc,"
    "Guérin,Muller,Henry,Roussel,Nicolas,Perrin,Morin,Mathieu,Clément,Gauthier,Dumont,Lopez,"
    "Fontaine,Chevalier,Robin,Masson,Sanchez,Gérard,Nguyen,Boyer,Denis,Lemaire,Duval,Joly,"
    "Gautier,Roger,Roche,Roy,Noël,Meyer,Lucas,Meunier,Pérez,Marchand,Dufour,Blanchard,Barbier,"
    "Brun,Dumas,Brunet,Schmitt,Leroux,Colin,Fernandez,Renard,Arnaud,Caron,Aubert,Giraud,"
    "Leclerc,Vidal,Bourgeois,Renaud,Lemoine,Picard,Gaillard,Lacroix,Fabre,Dupuis,Olivier,"
    "Da Silva,Hubert,Rivière,Le Gall,Ménard,Fleury,Prévost,Carré,Le Goff,Benali,Haddad,"
    "Diallo,Ferreira,Rossi,Besnard,Lefèvre-Durand,Cœur"
).split(",")
_NL_LAST = (
    "Peeters,Janssens,Maes,Jacobs,Mertens,Willems,Claes,Goossens,Wouters,De Smet,Dubois,"
    "Lambert,Dumont,Martens,Leclercq,Vermeulen,Pauwels,Hermans,Aerts,Van den Bossche,Desmet,"
    "De Backer,Michiels,Van Damme,Claeys,Cools,Verstraete,D'Hondt,Van de Velde,Smets,"
    "Declercq,Stevens,Hendrickx,Wuyts,Lemmens,Coppens,Vandenberghe,Verhoeven,Segers,Van Dyck"
).split(",")

_FR_DOMAINS = {"gmail.com": 35, "orange.fr": 14, "hotmail.fr": 11, "free.fr": 8, "yahoo.fr": 6,
               "outlook.com": 7, "laposte.net": 4, "sfr.fr": 5, "wanadoo.fr": 3,
               "icloud.com": 5, "live.fr": 2}
_BE_DOMAINS = {"gmail.com": 36, "skynet.be": 10, "telenet.be": 18, "hotmail.com": 10,
               "outlook.com": 8, "proximus.be": 5, "yahoo.com": 4, "icloud.com": 6, "live.be": 3}

CATEGORIES = ("shoes", "apparel", "running", "outdoor", "beauty", "kids", "home", "accessories")
#: brand -> (popularity, {category: share}); a few real, a few generic house brands.
_BRANDS: dict[str, tuple[float, dict[str, float]]] = {
    "Nike": (14, {"shoes": 0.5, "apparel": 0.3, "running": 0.2}),
    "Adidas": (13, {"shoes": 0.45, "apparel": 0.4, "running": 0.15}),
    "Kalenji": (7, {"running": 0.6, "shoes": 0.25, "apparel": 0.15}),
    "Quechua": (8, {"outdoor": 0.7, "apparel": 0.2, "accessories": 0.1}),
    "Salomon": (6, {"shoes": 0.5, "outdoor": 0.4, "running": 0.1}),
    "Le Coq Sportif": (5, {"shoes": 0.5, "apparel": 0.5}),
    "Columbia": (4, {"outdoor": 0.6, "apparel": 0.4}),
    "Lacoste": (5, {"apparel": 0.6, "shoes": 0.25, "accessories": 0.15}),
    "Petit Bateau": (6, {"kids": 0.85, "apparel": 0.15}),
    "Okaïdi": (4, {"kids": 1.0}),
    "L'Oréal": (8, {"beauty": 1.0}),
    "Sephora Collection": (6, {"beauty": 0.9, "accessories": 0.1}),
    "Yves Rocher": (5, {"beauty": 1.0}),
    "Maison Léa": (5, {"home": 0.85, "kids": 0.15}),
    "Tefal": (4, {"home": 1.0}),
}
BRANDS = tuple(_BRANDS)
#: Median basket (euros) of one item, per category.
_CATEGORY_PRICE = {"shoes": 85.0, "apparel": 45.0, "running": 70.0, "outdoor": 110.0,
                   "beauty": 32.0, "kids": 35.0, "home": 55.0, "accessories": 28.0}

INTEREST_TAGS = ("sport", "outdoor", "running", "fashion", "beauty", "home", "tech", "kids",
                 "travel", "food")
_CATEGORY_TAGS = {"shoes": ("sport",), "apparel": ("fashion",), "running": ("running", "sport"),
                  "outdoor": ("outdoor", "travel"), "beauty": ("beauty",), "kids": ("kids",),
                  "home": ("home",), "accessories": ("fashion",)}

SIGNUP_SOURCES = ("newsletter_footer", "checkout", "popup", "contest", "store",
                  "import_partner", "mobile_app")
LOYALTY_TIERS = ("bronze", "silver", "gold")


@dataclass(frozen=True)
class _Persona:
    """Latent behaviour of a group of contacts (hidden: segmentation should find it)."""

    name: str
    share: float
    open_rate: float            # opens per unit of campaign weight received
    click_prob: float           # P(click | open)
    click_journey_prob: float   # P(a click starts a shopping journey)
    organic_rate: float         # journeys per unit of seasonal intensity-day
    cart_prob: float            # P(add_to_cart) per session
    buy_prob: float             # P(purchase | add_to_cart)
    depth: float                # mean extra page visits per session
    affinity: float             # share of product views on the preferred brand
    member_prob: float          # P(loyalty programme member)
    consent: tuple[float, float, float]   # given, pending, withdrawn
    sources: tuple[float, ...]  # weights over SIGNUP_SOURCES


_PERSONAS = (
    _Persona("loyal", 0.07, 1.0, 0.30, 0.70, 1.0, 0.50, 0.75, 2.5, 0.80, 0.85,
             (0.92, 0.01, 0.07), (20, 35, 8, 2, 25, 1, 9)),
    _Persona("regular", 0.14, 0.6, 0.20, 0.50, 0.35, 0.40, 0.55, 2.0, 0.65, 0.50,
             (0.86, 0.02, 0.12), (25, 30, 15, 5, 15, 3, 7)),
    _Persona("lapsed", 0.09, 0.25, 0.15, 0.60, 1.0, 0.50, 0.70, 2.5, 0.70, 0.45,
             (0.70, 0.01, 0.29), (20, 35, 10, 5, 20, 5, 5)),
    _Persona("cart_abandoner", 0.10, 0.5, 0.20, 0.60, 0.6, 0.65, 0.07, 2.5, 0.60, 0.20,
             (0.84, 0.03, 0.13), (30, 15, 25, 8, 8, 4, 10)),
    _Persona("window_shopper", 0.15, 0.4, 0.15, 0.60, 0.5, 0.07, 0.25, 3.0, 0.45, 0.15,
             (0.82, 0.04, 0.14), (35, 5, 30, 10, 8, 5, 7)),
    _Persona("newsletter_only", 0.25, 0.7, 0.08, 0.0, 0.0, 0.0, 0.0, 0.0, 0.50, 0.08,
             (0.85, 0.03, 0.12), (45, 2, 25, 15, 5, 6, 2)),
    _Persona("never_engaged", 0.20, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.50, 0.05,
             (0.55, 0.15, 0.30), (25, 2, 20, 25, 5, 22, 1)),
)
_P = {name: np.array([getattr(p, name) for p in _PERSONAS])
      for name in ("share", "open_rate", "click_prob", "click_journey_prob", "organic_rate",
                   "cart_prob", "buy_prob", "depth", "affinity", "member_prob")}
_LAPSED = [p.name for p in _PERSONAS].index("lapsed")
#: Relative activity per hour of the day (0-23) of organic shopping sessions.
_HOUR_WEIGHTS = np.array([0.5, 0.3, 0.2, 0.1, 0.1, 0.2, 0.5, 1.2, 1.8, 2.0, 2.1, 2.3,
                          2.8, 2.5, 2.2, 2.1, 2.2, 2.5, 3.0, 3.6, 4.0, 3.8, 2.8, 1.5])


def _choice(rng: np.random.Generator, weights, size: int) -> np.ndarray:
    """Draw ``size`` indices with probabilities proportional to ``weights``."""
    cum = np.cumsum(np.asarray(weights, dtype=float))
    return np.searchsorted(cum, rng.random(size) * cum[-1], side="right").clip(0, len(cum) - 1)
