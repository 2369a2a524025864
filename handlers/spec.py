"""The command list every platform shows: names, one-line descriptions (en/fr) and typed options.

Telegram registers these with setMyCommands; Discord turns them into slash commands with options;
the console prints them in /help. The long help of a command is its handler's docstring.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class OptionSpec:
    """One argument of a command, as Discord's typed slash-command option."""

    name: str
    description_en: str
    description_fr: str
    kind: str = "string"  # "string" or "integer"
    required: bool = False
    autocomplete: bool = False


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """A command the bot answers."""

    name: str
    description_en: str
    description_fr: str
    options: tuple[OptionSpec, ...] = ()
    admin_only: bool = False

    def description(self, lang: str) -> str:
        return self.description_fr if lang == "fr" else self.description_en


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("start", "Introduce the bot", "Présenter le bot"),
    CommandSpec(
        "help",
        "List commands or explain one",
        "Lister les commandes ou en expliquer une",
        (OptionSpec("command", "A command name", "Un nom de commande"),),
    ),
    CommandSpec(
        "search",
        "Search every article seen",
        "Chercher dans tous les articles vus",
        (
            OptionSpec(
                "query",
                'Words, "phrases", OR, -word, source:, lang:',
                'Mots, "phrases", OR, -mot, source:, lang:',
                required=True,
            ),
        ),
    ),
    CommandSpec(
        "trend",
        "Chart daily mentions of names",
        "Tracer les mentions quotidiennes de noms",
        (
            OptionSpec(
                "names",
                'Up to 5 names, "quotes" for several words, then since:30d',
                'Jusqu\'à 5 noms, "guillemets" pour plusieurs mots, puis since:30d',
                required=True,
            ),
        ),
    ),
    CommandSpec(
        "latest",
        "Show the latest stories",
        "Afficher les dernières actualités",
        (OptionSpec("n", "How many (1-20)", "Combien (1-20)", kind="integer"),),
    ),
    CommandSpec(
        "subscribe",
        "Get alerts for a query in this chat",
        "Recevoir des alertes pour une requête ici",
        (OptionSpec("query", "What to watch", "Ce qu'il faut surveiller", required=True),),
    ),
    CommandSpec(
        "unsubscribe",
        "Stop a subscription",
        "Arrêter un abonnement",
        (
            OptionSpec(
                "subscription", "Its number or query", "Son numéro ou sa requête", required=True, autocomplete=True
            ),
        ),
    ),
    CommandSpec("subscriptions", "List this chat's subscriptions", "Lister les abonnements de ce salon"),
    CommandSpec("sources", "List feeds and their health", "Lister les sources et leur état"),
    CommandSpec(
        "lang",
        "Set the bot's language here (en, fr)",
        "Choisir la langue du bot ici (en, fr)",
        (OptionSpec("language", "en or fr", "en ou fr", required=True),),
    ),
    CommandSpec(
        "digest",
        "Schedule a digest (daily 08:00, weekly mon 08:00, off, now)",
        "Programmer un résumé (daily 08:00, weekly lun 08:00, off, now)",
        (
            OptionSpec(
                "schedule", "daily 08:00, weekly mon 08:00, off or now", "daily 08:00, weekly lun 08:00, off ou now"
            ),
        ),
    ),
    CommandSpec(
        "settings",
        "Alert settings: timezone, quiet hours, hourly cap",
        "Réglages des alertes : fuseau, heures calmes, plafond",
        (
            OptionSpec("setting", "timezone, quiet or cap", "timezone, quiet ou cap"),
            OptionSpec("value", "Europe/Paris, 22:00-07:00, 10, off...", "Europe/Paris, 22:00-07:00, 10, off..."),
        ),
    ),
    CommandSpec(
        "why",
        "Why an article was or was not alerted here",
        "Pourquoi un article a été signalé ici ou non",
        (OptionSpec("url", "The article's URL", "L'URL de l'article", required=True),),
    ),
    # feed administration and operations (issue 7)
    CommandSpec(
        "addfeed",
        "Add a feed (or a page that announces one)",
        "Ajouter un flux (ou une page qui en annonce un)",
        (OptionSpec("url", "The feed's or the site's URL", "L'URL du flux ou du site", required=True),),
        admin_only=True,
    ),
    CommandSpec(
        "removefeed",
        "Stop polling a feed",
        "Arrêter de lire un flux",
        (OptionSpec("feed", "Its number, name or URL", "Son numéro, son nom ou son URL", required=True,
                    autocomplete=True),),
        admin_only=True,
    ),
    CommandSpec("export", "Send the feed list as an OPML file", "Envoyer la liste des flux en fichier OPML"),
    CommandSpec("stats", "Feeds, articles, alerts, errors in numbers", "Flux, articles, alertes, erreurs en chiffres"),
)

COMMANDS_BY_NAME = {spec.name: spec for spec in COMMANDS}
