"""The bot's own words, in English and French. Handlers call `t(lang, key, **values)`."""

from __future__ import annotations

SUPPORTED = ("en", "fr")

_MESSAGES: dict[str, dict[str, str]] = {
    "start": {
        "en": "Hello! I watch {feeds} news feeds and alert this chat when a story matches its subscriptions.\n"
        "Try /search broadcom, /latest, /subscribe nvidia OR broadcom, or /help.",
        "fr": "Bonjour ! Je surveille {feeds} flux d'actualité et j'alerte ce salon quand une actualité "
        "correspond à ses abonnements.\nEssayez /search broadcom, /latest, /subscribe nvidia OR broadcom ou /help.",
    },
    "help.header": {"en": "Commands:", "fr": "Commandes :"},
    "help.more": {"en": "Type /help <command> for details.", "fr": "Tapez /help <commande> pour le détail."},
    "help.unknown": {"en": "No command named /{name}. Type /help for the list.",
                     "fr": "Aucune commande /{name}. Tapez /help pour la liste."},
    "unknown_command": {"en": "I don't know /{name}. Type /help for the list of commands.",
                        "fr": "Je ne connais pas /{name}. Tapez /help pour la liste des commandes."},
    "internal_error": {"en": "Sorry, something went wrong on my side; it has been logged. Please try again.",
                       "fr": "Désolé, une erreur s'est produite de mon côté ; elle est consignée. Réessayez."},
    "search.usage": {"en": "What should I look for? Example: /search broadcom", "fr":
                     "Que dois-je chercher ? Exemple : /search broadcom"},
    "search.header": {"en": "Stories {first}-{last} of {total} for “{query}”:",
                      "fr": "Actualités {first} à {last} sur {total} pour « {query} » :"},
    "search.header_more": {"en": "Stories {first}-{last} of the best {total} for “{query}” ({n} matching articles):",
                           "fr": "Actualités {first} à {last} parmi les {total} meilleures pour « {query} » "
                           "({n} articles trouvés) :"},
    "search.last_page": {"en": "There are only {pages} pages of results: here is the last one.",
                         "fr": "Il n'y a que {pages} pages de résultats : voici la dernière."},
    "trend.usage": {"en": "Which names should I chart? Example: /trend broadcom nvidia since:30d "
                    "(quotes for a name of several words: /trend \"Mistral AI\").",
                    "fr": "Quels noms dois-je suivre ? Exemple : /trend broadcom nvidia since:30d "
                    "(guillemets pour un nom de plusieurs mots : /trend \"Mistral AI\")."},
    "trend.too_many": {"en": "At most {max} names in one chart; you gave {n}.",
                       "fr": "Au plus {max} noms par graphique ; vous en avez donné {n}."},
    "trend.bad_since": {"en": "I can't read since:{value}. Use a number of days (since:30d, since:12w, up to "
                        "{max_days} days) or a date (since:2026-10-01).",
                        "fr": "Je ne comprends pas since:{value}. Donnez un nombre de jours (since:30d, since:12w, "
                        "jusqu'à {max_days} jours) ou une date (since:2026-10-01)."},
    "trend.bad_name": {"en": "Nothing searchable in “{name}”: give a name with letters or digits.",
                       "fr": "Rien à chercher dans « {name} » : donnez un nom avec des lettres ou des chiffres."},
    "trend.caption": {"en": "Daily mentions since {since}: {totals}.",
                      "fr": "Mentions par jour depuis le {since} : {totals}."},
    "trend.none": {"en": "No article mentions {names} since {since}.",
                   "fr": "Aucun article ne mentionne {names} depuis le {since}."},
    "search.none": {"en": "Nothing found for “{query}”.", "fr": "Rien trouvé pour « {query} »."},
    "search.suggest": {"en": "Did you mean “{suggestion}”?", "fr": "Vouliez-vous dire « {suggestion} » ?"},
    "search.suggest_button": {"en": "Search “{suggestion}”", "fr": "Chercher « {suggestion} »"},
    "page.prev": {"en": "‹ Previous", "fr": "‹ Précédent"},
    "page.next": {"en": "Next ›", "fr": "Suivant ›"},
    "latest.header": {"en": "Latest stories:", "fr": "Dernières actualités :"},
    "latest.none": {"en": "Nothing yet: no article has been collected so far.",
                    "fr": "Rien pour l'instant : aucun article n'a encore été collecté."},
    "latest.usage": {"en": "Usage: /latest [n], with n from 1 to 20.",
                     "fr": "Usage : /latest [n], avec n de 1 à 20."},
    "subscribe.usage": {"en": "What should I watch? Example: /subscribe broadcom OR \"custom ASIC\" lang:en",
                        "fr": "Que dois-je surveiller ? Exemple : /subscribe broadcom OR \"puce sur mesure\""},
    "subscribe.done": {"en": "Subscribed (#{id}): I will alert this chat about “{query}”.",
                       "fr": "Abonné (n° {id}) : j'alerterai ce salon pour « {query} »."},
    "subscribe.empty": {"en": "That query has nothing to match. Example: /subscribe broadcom",
                        "fr": "Cette requête ne peut rien trouver. Exemple : /subscribe broadcom"},
    "subscribe.too_many": {"en": "This chat already has {n} subscriptions, the maximum. Remove one first.",
                           "fr": "Ce salon a déjà {n} abonnements, le maximum. Supprimez-en un d'abord."},
    "unsubscribe.usage": {"en": "Which one? Give its number or its query, see /subscriptions.",
                          "fr": "Lequel ? Donnez son numéro ou sa requête, voir /subscriptions."},
    "unsubscribe.done": {"en": "Unsubscribed from #{id} (“{query}”).", "fr": "Désabonné du n° {id} (« {query} »)."},
    "unsubscribe.missing": {"en": "This chat has no subscription “{what}”. See /subscriptions.",
                            "fr": "Ce salon n'a pas d'abonnement « {what} ». Voir /subscriptions."},
    "subscriptions.none": {"en": "This chat has no subscriptions. Add one with /subscribe <query>.",
                           "fr": "Ce salon n'a aucun abonnement. Ajoutez-en un avec /subscribe <requête>."},
    "subscriptions.header": {"en": "Subscriptions of this chat:", "fr": "Abonnements de ce salon :"},
    "subscriptions.paused": {"en": "paused: {reason}", "fr": "en pause : {reason}"},
    "sources.none": {"en": "No feeds are configured.", "fr": "Aucun flux n'est configuré."},
    "sources.header": {"en": "{n} feeds:", "fr": "{n} flux :"},
    "sources.ok": {"en": "OK, last success {when}", "fr": "OK, dernier succès {when}"},
    "sources.never": {"en": "not polled yet", "fr": "pas encore interrogé"},
    "sources.failing": {"en": "FAILING ×{n} since {when}: {error}", "fr": "EN ÉCHEC ×{n} depuis {when} : {error}"},
    "lang.usage": {"en": "Usage: /lang en or /lang fr", "fr": "Usage : /lang en ou /lang fr"},
    "lang.done": {"en": "I will speak English in this chat.", "fr": "Je parlerai français dans ce salon."},
    "query.notice": {"en": "Note: {problem}", "fr": "Remarque : {problem}"},
    "sources.more": {"en": "+{n} sources", "fr": "+{n} sources"},
    "sources.one_more": {"en": "+1 source", "fr": "+1 source"},
    "alert.header": {"en": "New story for “{query}”", "fr": "Nouvelle actualité pour « {query} »"},
    "admin_only": {"en": "Only the chat's administrators can use /{name}.",
                   "fr": "Seuls les administrateurs du salon peuvent utiliser /{name}."},
    # alert policy, digests and /why (issue 4)
    "digest.header": {"en": "Digest: {n} stories since the last one",
                      "fr": "Résumé : {n} actualités depuis le dernier"},
    "digest.group": {"en": "• “{query}”: {n}", "fr": "• « {query} » : {n}"},
    "digest.held": {"en": "{n} of them were held back ({why}).", "fr": "Dont {n} retenues ({why})."},
    "digest.reason.quiet": {"en": "quiet hours", "fr": "heures calmes"},
    "digest.reason.cap": {"en": "hourly cap reached", "fr": "plafond horaire atteint"},
    "digest.usage": {"en": "Usage: /digest daily 08:00, /digest weekly mon 08:00, /digest off, /digest now",
                     "fr": "Usage : /digest daily 08:00, /digest weekly lun 08:00, /digest off, /digest now"},
    "digest.status": {"en": "Digest: {schedule} ({tz}). Alerts waiting for it: {held}.",
                      "fr": "Résumé : {schedule} ({tz}). Alertes en attente : {held}."},
    "digest.off": {"en": "off", "fr": "désactivé"},
    "digest.set": {"en": "Digest set: {schedule} ({tz}).", "fr": "Résumé programmé : {schedule} ({tz})."},
    "digest.unset": {"en": "Digest off. Alerts held by quiet hours or the cap will come once those end.",
                     "fr": "Résumé désactivé. Les alertes retenues viendront à la fin des heures calmes "
                     "ou du plafond."},
    "digest.empty": {"en": "Nothing new since the last digest.", "fr": "Rien de nouveau depuis le dernier résumé."},
    "settings.show": {"en": "Alert settings of this chat:\ntimezone: {tz}\nquiet hours: {quiet}\n"
                      "max alerts per hour: {cap}\ndigest: {digest}\nheld for the digest: {held}",
                      "fr": "Réglages des alertes de ce salon :\nfuseau : {tz}\nheures calmes : {quiet}\n"
                      "alertes par heure au plus : {cap}\nrésumé : {digest}\nretenues pour le résumé : {held}"},
    "settings.paused": {"en": "Alerts are PAUSED: {reason}", "fr": "Alertes EN PAUSE : {reason}"},
    "settings.usage": {"en": "Usage: /settings, /settings timezone Europe/Paris, /settings quiet 22:00-07:00 "
                       "(or off), /settings cap 10 (or off, default)",
                       "fr": "Usage : /settings, /settings timezone Europe/Paris, /settings quiet 22:00-07:00 "
                       "(ou off), /settings cap 10 (ou off, default)"},
    "settings.done": {"en": "Saved: {name} = {value}.", "fr": "Enregistré : {name} = {value}."},
    "settings.bad": {"en": "Not saved: {reason}.", "fr": "Non enregistré : {reason}."},
    "settings.none": {"en": "none", "fr": "aucun"},
    "settings.default": {"en": "(default)", "fr": "(par défaut)"},
    "why.usage": {"en": "Usage: /why <article URL>", "fr": "Usage : /why <URL de l'article>"},
    "why.unknown_url": {"en": "I have not seen an article at that URL.",
                        "fr": "Je n'ai vu aucun article à cette URL."},
    "why.article": {"en": "“{title}” ({source})", "fr": "« {title} » ({source})"},
    "why.joined_story": {"en": "Same story (#{story}) as “{title}”, already alerted here: it counts as one more "
                         "source on that alert, not a new alert.",
                         "fr": "Même actualité (n° {story}) que « {title} », déjà signalée ici : elle compte "
                         "comme une source de plus sur cette alerte, pas comme une nouvelle alerte."},
    "why.paused": {"en": "Pending: alerts to this chat are paused ({reason}); nothing is discarded.",
                   "fr": "En attente : les alertes de ce salon sont en pause ({reason}) ; rien n'est perdu."},
    "why.retrying": {"en": "Pending: {n} failed attempts (last: {error}); next try at {when}.",
                     "fr": "En attente : {n} essais échoués (dernier : {error}) ; prochain essai à {when}."},
    "why.pending": {"en": "Pending: matched “{query}”, about to be sent.",
                    "fr": "En attente : correspond à « {query} », sur le point d'être envoyée."},
    "why.delivered": {"en": "Delivered at {when} (matched “{query}”).",
                      "fr": "Envoyée le {when} (correspond à « {query} »)."},
    "why.edit_pending": {"en": "An update with more sources is on its way.",
                         "fr": "Une mise à jour avec plus de sources est en route."},
    "why.held.quiet": {"en": "Matched “{query}” during quiet hours: held for the digest (quiet until {until}).",
                       "fr": "Correspond à « {query} » pendant les heures calmes : retenue pour le résumé "
                       "(calme jusqu'à {until})."},
    "why.held.cap": {"en": "Matched “{query}” over the hourly cap: held for the digest (cap frees at {until}).",
                     "fr": "Correspond à « {query} » au-delà du plafond horaire : retenue pour le résumé "
                     "(plafond libéré à {until})."},
    "why.digested": {"en": "Held back ({reason}) and sent in the digest at {when}.",
                     "fr": "Retenue ({reason}) et envoyée dans le résumé du {when}."},
    "why.no_subscriptions": {"en": "Not alerted: this chat has no subscriptions.",
                             "fr": "Pas d'alerte : ce salon n'a aucun abonnement."},
    "why.not_matched": {"en": "Not alerted: none of this chat's subscriptions matches it.",
                        "fr": "Pas d'alerte : aucun abonnement de ce salon ne correspond."},
    "why.not_matched_one": {"en": "#{id} “{query}”: missing {missing}", "fr": "n° {id} « {query} » : manque {missing}"},
    "why.backlog": {"en": "Matches “{query}”, but it was already in its feed when the feed was added: a feed's "
                    "backlog is stored and searchable, not alerted.",
                    "fr": "Correspond à « {query} », mais figurait déjà dans son flux quand il a été ajouté : "
                    "l'historique d'un flux est conservé et consultable, pas signalé."},
    "why.no_alert": {"en": "Matches “{query}” now, but no alert was recorded: the subscription (created {created}) "
                     "probably came after the article.",
                     "fr": "Correspond à « {query} » maintenant, mais aucune alerte n'a été enregistrée : "
                     "l'abonnement (créé le {created}) est sans doute venu après l'article."},
    # feed health, administration and operations (issue 7)
    "feed.failing": {"en": "⚠️ The feed “{name}” has been failing since {since}: {error}. I keep retrying "
                     "(next try {next}); /sources shows its state.",
                     "fr": "⚠️ Le flux « {name} » échoue depuis le {since} : {error}. Je continue d'essayer "
                     "(prochain essai {next}) ; /sources montre son état."},
    "feed.recovered": {"en": "✅ The feed “{name}” works again (it had been failing since {since}).",
                       "fr": "✅ Le flux « {name} » fonctionne de nouveau (il échouait depuis le {since})."},
    "sources.next": {"en": "next poll {when}", "fr": "prochaine lecture {when}"},
    "sources.backoff": {"en": "failing since {since}, retry after {until}: {error}",
                        "fr": "en échec depuis le {since}, nouvel essai après {until} : {error}"},
    "addfeed.usage": {"en": "Usage: /addfeed <url of a feed or of a web page that announces one>",
                      "fr": "Usage : /addfeed <url d'un flux ou d'une page web qui en annonce un>"},
    "addfeed.bad_url": {"en": "That is not an http(s) URL: {url}", "fr": "Ce n'est pas une URL http(s) : {url}"},
    "addfeed.unreachable": {"en": "I could not fetch {url}: {reason}.", "fr": "Je n'ai pas pu lire {url} : {reason}."},
    "addfeed.no_feed": {"en": "I found no feed at {url}: the page announces none and none of the usual "
                        "addresses (/feed, /rss.xml...) answers with one.",
                        "fr": "Je n'ai trouvé aucun flux à {url} : la page n'en annonce pas et aucune des adresses "
                        "habituelles (/feed, /rss.xml...) n'en fournit."},
    "addfeed.not_a_feed": {"en": "{url} is not a readable feed: {reason}.",
                           "fr": "{url} n'est pas un flux lisible : {reason}."},
    "addfeed.known": {"en": "I already poll that feed as “{name}”.",
                      "fr": "Je lis déjà ce flux sous le nom « {name} »."},
    "addfeed.preview": {"en": "Found “{title}” ({n} items) at {url}. Its latest item is below. Add it?",
                        "fr": "Trouvé « {title} » ({n} articles) à {url}. Son dernier article est ci-dessous. "
                        "L'ajouter ?"},
    "addfeed.preview_empty": {"en": "Found “{title}” at {url}; it has no items yet. Add it?",
                              "fr": "Trouvé « {title} » à {url} ; il n'a encore aucun article. L'ajouter ?"},
    "addfeed.confirm_button": {"en": "Add this feed", "fr": "Ajouter ce flux"},
    "addfeed.added": {"en": "Added “{name}”: its first poll starts within seconds (its current items are stored "
                      "and searchable, only later ones are alerted).",
                      "fr": "« {name} » ajouté : sa première lecture démarre dans quelques secondes (ses articles "
                      "actuels sont archivés et cherchables, seuls les suivants sont signalés)."},
    "removefeed.usage": {"en": "Which feed? Give its number, name or URL (see /sources).",
                         "fr": "Quel flux ? Donnez son numéro, son nom ou son URL (voir /sources)."},
    "removefeed.missing": {"en": "No feed “{what}”. See /sources.", "fr": "Aucun flux « {what} ». Voir /sources."},
    "removefeed.config": {"en": "“{name}” comes from the configuration file: remove it there (it would come back "
                          "at the next start).",
                          "fr": "« {name} » vient du fichier de configuration : retirez-le là (il reviendrait au "
                          "prochain démarrage)."},
    "removefeed.done": {"en": "Removed “{name}”; its articles stay searchable.",
                        "fr": "« {name} » retiré ; ses articles restent cherchables."},
    "export.done": {"en": "{n} feeds, as OPML (any feed reader imports it).",
                    "fr": "{n} flux, au format OPML (tout lecteur de flux l'importe)."},
    "stats.text": {"en": "Feeds: {feeds} ({failing} failing)\nArticles: {articles}\nStories: {stories}\n"
                   "Alerts sent today: {sent}\nAlerts waiting to be sent: {pending}\nFeed errors in the last "
                   "24 h: {errors}",
                   "fr": "Flux : {feeds} ({failing} en échec)\nArticles : {articles}\nActualités : {stories}\n"
                   "Alertes envoyées aujourd'hui : {sent}\nAlertes en attente d'envoi : {pending}\nErreurs de "
                   "flux sur 24 h : {errors}"},
}


def t(lang: str, key: str, **values: object) -> str:
    """Return message `key` in `lang` (English when missing), with `values` filled in."""
    entry = _MESSAGES[key]
    template = entry.get(lang) or entry["en"]
    return template.format(**values) if values else template


def more_sources(lang: str, n: int) -> str:
    """Say "+N sources" in the chat's language."""
    return t(lang, "sources.one_more") if n == 1 else t(lang, "sources.more", n=n)
