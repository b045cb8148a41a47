"""Word lists the demo catalogue is built from: three departments of a media shop, six
genres each, every genre with its own title words, themes and tags."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Department:
    name: str
    noun: str  # what one item is: "novel", "film", "album"
    creator: str  # the attribute naming who made it
    audience: str  # who talks about it, for descriptions
    formats: tuple[str, ...]
    price: tuple[float, float]


@dataclass(frozen=True)
class Genre:
    name: str
    department: str
    adjectives: tuple[str, ...]
    nouns: tuple[str, ...]
    themes: tuple[str, ...]  # "about ..." phrases for descriptions
    tags: tuple[str, ...]
    audience_age: int  # the age of the users who like it most
    kind: str = ""  # what one item is, when not "<genre> <department noun>"

    def describe(self, noun: str) -> str:
        return self.kind or f"{self.name.lower()} {noun}"


DEPARTMENTS = {
    d.name: d
    for d in (
        Department("Books", "novel", "author", "Readers", ("hardcover", "paperback", "ebook"),
                   (6.0, 35.0)),
        Department("Films", "film", "director", "Viewers", ("HD", "4K", "DVD"), (3.0, 20.0)),
        Department("Music", "album", "artist", "Listeners", ("vinyl", "CD", "digital"),
                   (5.0, 30.0)),
    )
}  # fmt: skip


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _g(
    name: str,
    dept: str,
    age: int,
    adj: str,
    nouns: str,
    themes: list[str],
    tags: str,
    kind: str = "",
) -> Genre:
    return Genre(name, dept, _words(adj), _words(nouns), tuple(themes), _words(tags), age, kind)


GENRES: tuple[Genre, ...] = (
    _g("Fantasy", "Books", 24,
       "Shattered Hidden Silver Forgotten Burning Hollow Ember Crystal Wild Thorned",
       "Crown Dragon Throne Sword Kingdom Oracle Tower Forest Rune Witch",
       ["an exiled heir reclaiming a stolen throne", "a young mage bound to an ancient dragon",
        "a quest across a kingdom torn by war", "a thief who steals a god's secret"],
       "magic dragons epic quest sword-and-sorcery worldbuilding"),
    _g("Science Fiction", "Books", 30,
       "Quantum Silent Distant Artificial Red Orbital Last Neon Infinite Frozen",
       "Star Colony Signal Horizon Machine Planet Station Protocol Void Android",
       ["the first contact with a silent alien fleet", "a generation ship that forgot its course",
        "an android who learns to dream", "a colony fighting for air on a dying moon"],
       "space robots dystopia time-travel aliens hard-sf"),
    _g("Crime", "Books", 48,
       "Cold Dead Silent Broken Crooked Midnight Perfect Quiet Bitter Final",
       "Case Witness Alibi Verdict Confession Harbour Detective Motive Evidence Killer",
       ["a detective hunting a killer who leaves no trace", "a lawyer defending the wrong man",
        "a small town hiding a decades-old murder", "a heist that goes badly wrong"],
       "detective murder-mystery noir police whodunit suspense"),
    _g("Romance", "Books", 36,
       "Sweet Second Summer Secret Endless Golden Unexpected Tender Stolen Wild",
       "Heart Kiss Promise Wedding Letter Season Affair Love Garden Dance",
       ["two rivals forced to share a bookshop", "a second chance at a first love",
        "a summer on a Greek island", "a letter that arrives twenty years late"],
       "love-story second-chance small-town enemies-to-lovers heartwarming regency"),
    _g("History", "Books", 58,
       "Great Lost Iron Imperial Forgotten Ancient Long Fallen Glorious Bloody",
       "Empire War Revolution Dynasty Republic Crusade Voyage Century Siege Age",
       ["the rise and fall of Rome", "the voyages that mapped the world",
        "the year that changed Europe", "the women who ran an empire"],
       "biography ancient-rome world-war-ii medieval non-fiction empire", "history book"),
    _g("Cooking", "Books", 50,
       "Simple Everyday Slow Green Rustic Modern Italian Spicy Seasonal Homemade",
       "Kitchen Table Bread Feast Pantry Garden Oven Spices Soup Bakery",
       ["weeknight dinners in thirty minutes", "baking bread at home",
        "vegetables from the garden to the table", "the food of the Mediterranean"],
       "recipes vegetarian baking quick-meals family-cooking healthy", "cookbook"),
    _g("Action", "Films", 27,
       "Rogue Deadly Lethal Iron Rapid Maximum Final Hard Black Blazing",
       "Strike Mission Force Target Pursuit Agent Fury Impact Extraction Protocol",
       ["a retired agent pulled back for one last job", "a chase across three continents",
        "a crew planning an impossible heist", "a soldier stranded behind enemy lines"],
       "explosions car-chase martial-arts heist spy blockbuster"),
    _g("Comedy", "Films", 29,
       "Crazy Happy Big Awkward Little Totally Wild Lucky Accidental Perfect",
       "Weekend Wedding Roommates Vacation Family Neighbours Party Trip Boss Reunion",
       ["a wedding where everything goes wrong", "two strangers stuck on a road trip",
        "a family reunion nobody wanted", "an office party that gets out of hand"],
       "feel-good slapstick romantic-comedy satire buddy family-friendly"),
    _g("Drama", "Films", 45,
       "Quiet Open Broken Long Small Bright Distant Hidden Last Shallow",
       "River Winter House Daughter Promise Road Silence Shore Years Harvest",
       ["a family farm in its last season", "a daughter coming home after twenty years",
        "a teacher who changes a town", "grief and the long road back"],
       "character-study family-drama award-winning true-story coming-of-age tearjerker"),
    _g("Horror", "Films", 22,
       "Dark Hollow Cursed Crimson Silent Endless Haunted Rotting Pale Wicked",
       "Night House Ritual Cellar Shadow Woods Doll Asylum Hunger Whisper",
       ["a family that moves into the wrong house", "friends lost in the woods after dark",
        "a ritual that should never have been finished", "something living under the floor"],
       "supernatural slasher psychological ghost-story creature gore"),
    _g("Documentary", "Films", 52,
       "Hidden Wild Secret Deep Frozen Untold Living Blue Human Vanishing",
       "Planet Ocean Story Life Kingdom Frontier World Journey Truth Earth",
       ["the deepest parts of the ocean", "the last wild tigers",
        "an unsolved case from the seventies", "the scientists racing to save the reefs"],
       "nature true-crime history science wildlife investigative"),
    _g("Animation", "Films", 16,
       "Little Magic Brave Tiny Amazing Flying Lost Giant Secret Happy",
       "Friends Robot Kingdom Adventure Island Dragon Journey Toys Forest Pirates",
       ["a robot who wants to be a gardener", "toys that come alive at night",
        "a girl who befriends a shy dragon", "pirates searching for a floating island"],
       "family kids anime stop-motion musical adventure"),
    _g("Jazz", "Music", 55,
       "Blue Late Smoky Cool Velvet Midnight Modal Swinging Lonely Golden",
       "Sessions Standards Nights Suite Quartet Ballads Groove Moods Train Hour",
       ["late-night club sessions", "ballads for a rainy city",
        "a quartet at the top of its game", "standards reworked for piano trio"],
       "bebop smooth-jazz big-band piano-trio saxophone live-recording"),
    _g("Rock", "Music", 38,
       "Electric Loud Broken Wild Heavy Burning Young Restless Dirty Wired",
       "Highway Stones Riot Machine Hearts Thunder Nation Engine Rebels Noise",
       ["songs for the open highway", "loud guitars and louder choruses",
        "a band at its most restless", "anthems written for stadiums"],
       "guitar indie-rock classic-rock punk alternative stadium"),
    _g("Classical", "Music", 62,
       "Complete Late Great Early Sacred Romantic Baroque Grand Eternal Noble",
       "Symphonies Sonatas Concertos Requiem Nocturnes Variations Preludes Cantatas Quartets "
       "Overtures",
       ["the great symphonies in new recordings", "sacred music for choir and organ",
        "piano works of the romantic era", "baroque concertos on period instruments"],
       "orchestral piano opera chamber-music baroque choral"),
    _g("Electronic", "Music", 25,
       "Deep Digital Neon Synthetic Lunar Hyper Liquid Analog Endless Pulse",
       "Waves Circuits Dreams Signals Motion Frequencies Lights Code Drift Systems",
       ["club nights that end at sunrise", "ambient textures for deep focus",
        "vintage synthesizers and drum machines", "bass-heavy tracks for the dance floor"],
       "techno house ambient synthwave drum-and-bass dance"),
    _g("Hip-Hop", "Music", 21,
       "Real Golden Street Raw Fresh Hard Royal Late Underground Concrete",
       "Flow Streets Verses Dreams City Crown Hustle Legacy Blocks Chronicles",
       ["growing up on the east side", "sharp verses over dusty samples",
        "the hustle and its price", "a city told block by block"],
       "rap boom-bap trap conscious beats lyrical"),
    _g("Folk", "Music", 44,
       "Old Wandering Quiet Northern Lonesome Simple Faded Wooden Western Little",
       "Songs Roads Hills Ballads River Hearth Fields Meadow Stories Harbour",
       ["songs from a cabin in the hills", "old ballads sung with one guitar",
        "stories of the sea and those who left", "harmonies from a family band"],
       "acoustic singer-songwriter americana traditional bluegrass celtic"),
)  # fmt: skip

# Cross-genre moods: every item has one, every user leans towards some.
MOODS = ("dark", "uplifting", "relaxing", "intense", "quirky", "classic")
MOOD_WORDS = {
    "dark": "dark",
    "uplifting": "uplifting",
    "relaxing": "gentle",
    "intense": "gripping",
    "quirky": "quirky",
    "classic": "timeless",
}

FIRST_NAMES = _words(
    "Mara Jonas Elena Tomas Aisha Noah Lena Omar Sofia Felix Hana Lucas Ines Mateo Yara Emil "
    "Clara Ravi Nora Theo Amara Jun Maya Leon Zoe Ivan Leila Hugo Ada Kofi"
)
LAST_NAMES = _words(
    "Okafor Lindqvist Moreau Tanaka Novak Haddad Ferreira Kowalski Brennan Duarte Svensson "
    "Achebe Romano Fischer Nakamura Petrov Costa Larsen Mendes Dubois Kaur Reyes Vogel Quinn "
    "Adeyemi Holm Sato Marchetti Byrne Alvarez"
)
COUNTRIES = ("US", "GB", "DE", "FR", "ES", "IT", "NL", "SE", "PL", "BR", "IN", "JP", "CA", "AU")
COUNTRY_WEIGHTS = (20, 10, 10, 8, 6, 6, 4, 3, 4, 8, 8, 5, 4, 4)
CHANNELS = ("organic", "search", "social", "referral", "newsletter")
