"""Real text for simulated contacts: subjects, customer messages, agent replies, survey
comments and social mentions, in three tones (positive, neutral, negative).

Each category has a few issues; an issue has a subject line and several ways a customer
states it, so that the first message of a contact says why the customer got in touch and a
topic model can recover the category later. Banks are built once (combinations of an opening,
the statement of the issue and a closing in the customer's tone) and then picked by index,
which keeps a million contacts fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

TONES = ("positive", "neutral", "negative")

# Category -> list of (subject, statements). A statement may use {order} (an order number).
ISSUES: dict[str, list[tuple[str, list[str]]]] = {
    "billing": [
        (
            "Charged twice for one order",
            [
                "I was charged twice for order {order}.",
                "My card statement shows two payments for the same order ({order}).",
                "You took the money for order {order} two times.",
            ],
        ),
        (
            "Refund not received",
            [
                "I still have not received the refund for order {order}.",
                "The refund you promised for {order} never arrived on my card.",
                "It has been two weeks and the refund for order {order} is not in my account.",
            ],
        ),
        (
            "Question about my invoice",
            [
                "My latest invoice has a fee I do not recognise.",
                "Can you explain the extra charge on this month's invoice?",
                "The invoice total is higher than the price I signed up for.",
            ],
        ),
        (
            "Payment declined",
            [
                "My payment keeps getting declined even though the card is valid.",
                "Checkout says my card was declined but my bank says everything is fine.",
            ],
        ),
    ],
    "delivery": [
        (
            "Where is my order?",
            [
                "Where is my order {order}? Tracking has not moved in five days.",
                "My package {order} was supposed to arrive on Monday and it is still not here.",
                "Order {order} shows 'in transit' for a week now.",
            ],
        ),
        (
            "Package marked delivered but not received",
            [
                "Tracking says order {order} was delivered but nothing came to my door.",
                "The parcel for {order} is marked delivered, I never got it.",
            ],
        ),
        (
            "Damaged item",
            [
                "Order {order} arrived with the box crushed and the item broken.",
                "The item in order {order} came damaged, the screen is cracked.",
            ],
        ),
        (
            "Change delivery address",
            [
                "I need to change the delivery address for order {order}.",
                "Can you send order {order} to my work address instead?",
            ],
        ),
    ],
    "returns": [
        (
            "How do I return an item?",
            [
                "I would like to return an item from order {order}.",
                "How do I send back the shoes from order {order}? They do not fit.",
            ],
        ),
        (
            "Return label not working",
            [
                "The return label for order {order} is rejected at the post office.",
                "The return label link in your email gives me an error.",
            ],
        ),
        (
            "Exchange for a different size",
            [
                "Can I exchange the jacket from order {order} for a larger size?",
                "I want to swap the item in {order} for a different colour.",
            ],
        ),
    ],
    "technical": [
        (
            "App keeps crashing",
            [
                "The app crashes every time I open my account page.",
                "Since the last update the mobile app closes as soon as I log in.",
                "The app freezes on the checkout screen and then crashes.",
            ],
        ),
        (
            "Cannot log in",
            [
                "I cannot log in, it says my password is wrong but I just reset it.",
                "The login page keeps sending me back to the start.",
                "Two-factor codes never arrive so I cannot get into my account.",
            ],
        ),
        (
            "Error when paying",
            [
                "I get 'error 502' when I try to pay.",
                "The payment page shows an error and the order is not placed.",
            ],
        ),
        (
            "Device will not connect",
            [
                "The device will not connect to my wifi after the firmware update.",
                "My smart plug lost its connection and the reset does not help.",
            ],
        ),
    ],
    "account": [
        (
            "Change my email address",
            [
                "I need to change the email address on my account.",
                "Please update my account email, I no longer use the old one.",
            ],
        ),
        (
            "Update payment method",
            [
                "How do I update the card on my account?",
                "I want to switch my payment method to PayPal.",
            ],
        ),
        (
            "Reset my password",
            [
                "The password reset email never arrives.",
                "I forgot my password and the reset link has expired.",
            ],
        ),
    ],
    "cancellation": [
        (
            "Cancel my subscription",
            [
                "I want to cancel my subscription.",
                "Please cancel my plan at the end of this month.",
                "How do I stop the automatic renewal?",
            ],
        ),
        (
            "Close my account",
            [
                "Please close my account and delete my data.",
                "I would like to close my account, I am moving to another provider.",
            ],
        ),
    ],
}

CATEGORIES: tuple[str, ...] = tuple(ISSUES)

_OPENINGS = {
    "positive": ["Hi there!", "Hello, hope you are well.", "Good morning!", "Hi team,", ""],
    "neutral": ["Hi,", "Hello.", "", "Good afternoon,"],
    "negative": ["Hello.", "", "This is getting ridiculous.", "Seriously?"],
}
_CLOSINGS = {
    "positive": [
        "Thanks so much for your help!",
        "I love your products, so I hope this is easy to fix.",
        "Thank you in advance, you have always been great.",
        "Much appreciated!",
    ],
    "neutral": [
        "Can you help?",
        "What are my options?",
        "Please let me know.",
        "Thanks.",
        "What should I do?",
    ],
    "negative": [
        "This is the worst service I have had in years.",
        "I am very frustrated and want this fixed today.",
        "Nobody answers my emails, this is unacceptable.",
        "I am really disappointed and thinking about leaving.",
        "Fix it now or refund me.",
    ],
}
_REPEAT_OPENINGS = {
    "positive": ["Hi again, following up on my earlier contact."],
    "neutral": ["I contacted you about this a few days ago and it is still not solved."],
    "negative": [
        "I already called about this last week and NOTHING happened.",
        "Third time contacting you about the same thing.",
    ],
}

# Spanish statements, one per issue (same order as ISSUES), for the Spanish queue.
_SPANISH = {
    "billing": [
        "Me cobraron dos veces el pedido {order}.",
        "No he recibido el reembolso del pedido {order}.",
        "No entiendo un cargo extra en mi factura.",
        "Mi tarjeta es rechazada al pagar aunque es válida.",
    ],
    "delivery": [
        "¿Dónde está mi pedido {order}? Todavía no ha llegado.",
        "El pedido {order} figura como entregado pero no lo recibí.",
        "El pedido {order} llegó dañado.",
        "Necesito cambiar la dirección de entrega del pedido {order}.",
    ],
    "returns": [
        "Quiero devolver un artículo del pedido {order}.",
        "La etiqueta de devolución del pedido {order} no funciona.",
        "Quiero cambiar el artículo del pedido {order} por otra talla.",
    ],
    "technical": [
        "La aplicación se cierra al abrir mi cuenta.",
        "No puedo iniciar sesión en mi cuenta.",
        "Aparece un error cuando intento pagar.",
        "El dispositivo no se conecta al wifi después de la actualización.",
    ],
    "account": [
        "Necesito cambiar el correo de mi cuenta.",
        "Quiero actualizar mi método de pago.",
        "No me llega el correo para restablecer la contraseña.",
    ],
    "cancellation": [
        "Quiero cancelar mi suscripción.",
        "Por favor, cierren mi cuenta y borren mis datos.",
    ],
}
_SPANISH_CLOSINGS = {
    "positive": ["¡Muchas gracias por su ayuda!", "Gracias de antemano."],
    "neutral": ["¿Me pueden ayudar?", "Quedo atento."],
    "negative": ["Es inaceptable, estoy muy molesto.", "Pésimo servicio, quiero una solución ya."],
}

_AGENT_REPLIES = {
    "billing": [
        "Thanks for getting in touch. I have checked your payments and issued a refund for the "
        "duplicate charge; it will show on your card in 3-5 working days.",
        "I have looked into your invoice: the extra line is a one-off setup fee, and I have "
        "removed it as a goodwill gesture.",
    ],
    "delivery": [
        "Sorry about the wait. I have contacted the courier and your parcel is out for delivery "
        "tomorrow.",
        "I have arranged a replacement to be sent today by express delivery.",
    ],
    "returns": [
        "I have emailed you a new prepaid return label; drop the parcel at any post office.",
        "Your exchange is set up: send the item back and the new size ships as soon as we scan it.",
    ],
    "technical": [
        "Please update the app to the latest version and clear its cache; that fixes the crash.",
        "I have reset your login session; please try again and let me know if it works.",
    ],
    "account": [
        "Done: your account details are updated. You will get a confirmation email shortly.",
        "I have sent a fresh reset link that is valid for 24 hours.",
    ],
    "cancellation": [
        "Your subscription is cancelled at the end of the current billing period.",
        "I have closed your account as requested; you will receive a confirmation by email.",
    ],
}
_AGENT_REPLIES_ES = [
    "Gracias por escribirnos. Ya he resuelto su caso y recibirá una confirmación por correo.",
    "Lamento las molestias; he tramitado la solicitud y le escribiremos en 24 horas.",
]

SURVEY_COMMENTS = {
    "positive": [
        "Quick and friendly, sorted in minutes.",
        "The agent was brilliant and really listened.",
        "Great service, problem solved on the first call.",
        "Very helpful, thank you!",
        "Fast answer and clear explanation.",
        "Super easy, would recommend.",
    ],
    "neutral": [
        "It was fine.",
        "Took a while but it got done.",
        "OK service, nothing special.",
        "Resolved, although I had to explain twice.",
        "Average experience.",
    ],
    "negative": [
        "Waited ages on hold and the problem is still not fixed.",
        "The agent rushed me off the phone without solving anything.",
        "I had to call back three times. Terrible.",
        "Nobody takes responsibility, awful.",
        "Transferred around and lost my patience.",
        "Rude and unhelpful.",
    ],
}

MENTIONS = {
    "positive": [
        "Shout out to @ShopSupport for fixing my {category} issue in minutes!",
        "Loving my new order, delivery was super fast 🙌",
        "Best customer service I have dealt with this year, thank you @ShopSupport",
        "Really impressed by how quickly the team sorted my {category} question.",
    ],
    "neutral": [
        "Does anyone know how long returns take with @ShopSupport?",
        "@ShopSupport is the app down for anyone else?",
        "Thinking about switching my subscription, any opinions on @ShopSupport?",
        "Just ordered from @ShopSupport, let's see how it goes.",
    ],
    "negative": [
        "@ShopSupport still waiting on my {category} problem, a week and no answer. Awful.",
        "Never ordering again, {category} issue ignored for days @ShopSupport",
        "@ShopSupport your app crashed again and ate my order. So annoying.",
        "Charged twice and no refund yet, shame on you @ShopSupport",
    ],
}


@dataclass(frozen=True)
class MessageBank:
    """Pre-built first messages for one (category, issue, tone): pick one by index."""

    subject: str
    messages: tuple[str, ...]


def build_banks(spanish: bool = False) -> dict[tuple[str, int, str, bool], MessageBank]:
    """Every (category, issue index, tone, is_repeat) -> its bank of first messages."""
    banks: dict[tuple[str, int, str, bool], MessageBank] = {}
    for category, issues in ISSUES.items():
        for issue_index, (subject, statements) in enumerate(issues):
            for tone in TONES:
                for repeat in (False, True):
                    if spanish:
                        statements_used = [_SPANISH[category][issue_index]]
                        openings = ["Hola,", "Buenas tardes,", ""]
                        closings = _SPANISH_CLOSINGS[tone]
                    else:
                        statements_used = statements
                        openings = _REPEAT_OPENINGS[tone] if repeat else _OPENINGS[tone]
                        closings = _CLOSINGS[tone]
                    messages = tuple(
                        " ".join(
                            part for part in (opening, _after(opening, statement), closing) if part
                        )
                        for opening, statement, closing in product(
                            openings, statements_used, closings
                        )
                    )
                    banks[(category, issue_index, tone, repeat)] = MessageBank(subject, messages)
    return banks


def _after(opening: str, statement: str) -> str:
    """The statement as it reads after the opening: "Hi, my card…" (but "Hi, I was…")."""
    if not opening.endswith(","):
        return statement
    lead = 1 if statement.startswith("¿") else 0
    if statement[lead:].startswith(("I ", "I'")):
        return statement
    return statement[:lead] + statement[lead].lower() + statement[lead + 1 :]


def agent_replies(spanish: bool = False) -> dict[str, list[str]]:
    if spanish:
        return {category: _AGENT_REPLIES_ES for category in ISSUES}
    return _AGENT_REPLIES


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FIRST_NAMES = _words(
    "Olivia Liam Emma Noah Ava Oliver Sophia Elijah Isabella James Mia William Amelia "
    "Benjamin Harper Lucas Evelyn Henry Abigail Alexander Emily Daniel Ella Matthew Grace "
    "Jackson Chloe Sebastian Zoe Mateo Lily David Nora Joseph Aria Samuel Layla Carter Riley "
    "Owen Lucia Wyatt Valentina John Camila Jack Priya Arjun Aisha Omar Mei Hiro Fatima "
    "Kwame Sofia Diego Maria Jose Ana Luis Carmen Javier"
)
LAST_NAMES = _words(
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez "
    "Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson "
    "White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott "
    "Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter "
    "Roberts Patel Khan Okafor Tanaka Kim Silva Reyes Santos Cruz Murphy O'Brien Kowalski "
    "Novak"
)


@dataclass(frozen=True)
class LabelledText:
    """A simulated contact's text with what generated it: the reason (category and issue,
    as the simulator chose them) and the customer's tone. For judging topics and sentiment
    against the truth (`servicepulse bench insights --quality`)."""

    text: str  # subject and first customer message, as contact drivers read them
    category: str
    issue: str  # the issue's subject line: one contact reason
    tone: str  # positive, neutral or negative
    spanish: bool


# The simulator's tone mix for new contacts (engine._TONE_P) and its share of repeats.
_TONE_WEIGHTS = (0.25, 0.5, 0.25)
_REPEAT_SHARE = 0.15


def labelled_texts(count: int, seed: int = 1, spanish_share: float = 0.0) -> list[LabelledText]:
    """`count` contact texts made as the simulator makes them (a category and issue, a tone,
    a first message from that bank, an order number), each with its labels. Categories and
    issues uniformly chosen, tones in the simulator's mix; `spanish_share` of them from the
    Spanish queue (an English subject, a Spanish message)."""
    import random

    rng = random.Random(seed)
    banks, banks_es = build_banks(), build_banks(spanish=True)
    result = []
    for _ in range(count):
        category = rng.choice(CATEGORIES)
        issue = rng.randrange(len(ISSUES[category]))
        tone = rng.choices(TONES, weights=_TONE_WEIGHTS)[0]
        spanish = rng.random() < spanish_share
        repeat = rng.random() < _REPEAT_SHARE
        bank = (banks_es if spanish else banks)[(category, issue, tone, repeat)]
        message = rng.choice(bank.messages).format(order=f"#{rng.randint(100000, 999999)}")
        result.append(LabelledText(f"{bank.subject}. {message}", category, bank.subject, tone,
                                   spanish))
    return result
