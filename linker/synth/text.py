# ruff: noqa: E501, RUF001
"""Prompt text generators: benign personas, shared-text confounders (viral templates,
SDK quick-start samples, homework, company context) and distillation campaign families.

All generators take a ``random.Random`` and are pure functions of its state, so the
world is deterministic per seed. They are written for speed (about 1M prompts in a few
seconds): slot lists are indexed with ``int(random() * len)`` rather than ``choice``.
"""

from __future__ import annotations

import bisect
import random
import re
import string
from collections.abc import Callable
from dataclasses import dataclass, field

from .vocab import (
    CODE_FUNC,
    CODE_IDENT,
    FILLER_ADJ,
    FILLER_ADV,
    FILLER_NOUNS,
    FILLER_TAIL,
    FILLER_VERBS,
    INDUSTRIES,
    V,
)

_SLOT = re.compile(r"\{([a-z_]+?)(\d?)\}")
_LA, _LN, _LW, _LD, _LT = (
    len(FILLER_ADJ),
    len(FILLER_NOUNS),
    len(FILLER_VERBS),
    len(FILLER_ADV),
    len(FILLER_TAIL),
)

# ---------------------------------------------------------------------------------
# Benign templates, by interest category
# ---------------------------------------------------------------------------------
EXTRA_V: dict[str, list[str]] = {
    "food_fail": [
        "dry",
        "soggy",
        "too salty",
        "flat",
        "gummy",
        "bland",
        "burnt on the bottom",
        "rubbery",
        "too dense",
        "watery",
    ],
    "hobby": [
        "gardening",
        "jazz",
        "rock climbing",
        "board games",
        "baking",
        "fishing",
        "anime",
        "vintage cars",
        "knitting",
        "astronomy",
        "football",
        "crosswords",
    ],
    "kid_age": [str(i) for i in range(2, 17)],
    "trivia_topic": [
        "the 1990s",
        "space",
        "world capitals",
        "Greek mythology",
        "the Olympics",
        "famous paintings",
        "dinosaurs",
        "movie soundtracks",
        "chemistry",
        "geography",
    ],
    "weekday": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "the weekend"],
    "grade_level": ["7th grade", "9th grade", "high school", "first-year college", "ESL", "AP"],
    "criteria_edu": [
        "thesis, evidence, organization, grammar",
        "argument, sources, clarity",
        "creativity, structure, mechanics",
        "content, style, conventions",
        "claim, reasoning, counterargument",
    ],
}
VOCAB: dict[str, list[str]] = {**V, **EXTRA_V}

BENIGN_TEMPLATES: dict[str, list[str]] = {
    "email": [
        "Write a {tone} email to my {recipient} about {email_topic}.",
        'Can you help me reply to my {recipient}? They wrote: "{filler_s}" I want to sound {tone}.',
        "Make this email more {tone}: {filler_m}",
        "draft a quick message to my {recipient} about {email_topic}, keep it under {n_small} sentences",
        "What's a {tone} way to tell my {recipient} about {email_topic}?",
        "Proofread this email before I send it to my {recipient}:\n\n{filler_m}",
        "Email to {recipient} re: {email_topic}. {tone}, short.",
    ],
    "cooking": [
        "Give me a {diet} recipe for {dish} that takes under {n_minutes} minutes.",
        "What can I cook with {ingredient}, {ingredient2} and {ingredient3}?",
        "How do I make {dish} without an oven?",
        "I have {ingredient} and {ingredient2} left over. Dinner ideas for {n_people} people?",
        "Weekly {diet} meal plan using {ingredient} and {ingredient2}, with a shopping list",
        "Why did my {dish} turn out {food_fail}?",
        "Can I substitute {ingredient} for {ingredient2} in {dish}?",
        "{diet} version of {dish} for {n_people}?",
    ],
    "code": [
        "Why does my {lang} code throw {error} when I {code_task}?\n\n{code}",
        "How do I {code_task} in {lang}?",
        "Can you review this {lang} function and suggest improvements?\n{code}",
        "Convert this {lang} snippet to {lang2}:\n{code}",
        "What's the idiomatic way to {code_task} in {lang}? I'm coming from {lang2}.",
        "Explain what this code does line by line:\n{code}",
        "write a {lang} script to {code_task}",
        "Getting {error} in production, only sometimes. Stack is {lang}. Where do I start debugging?",
        "{lang}: best library to {code_task}?",
    ],
    "travel": [
        "Plan a {n_days}-day itinerary for {city} in {month} on a {budget} budget.",
        "Is {month} a good time to visit {city}?",
        "What should I pack for {n_days} days in {city} in {month}?",
        "Best neighborhoods to stay in {city} for a {budget} trip?",
        "I have a {n_hours}-hour layover in {city}. Worth leaving the airport?",
        "Compare {city} and {city2} for a {n_days}-day trip with kids",
        "{city} in {month}: what are the must-see things that aren't tourist traps?",
    ],
    "study": [
        "Explain {concept} to {audience}.",
        "Summarize the main causes of {history_event}.",
        "Give me {n_small} practice questions on {concept} with answers.",
        "What are the key themes in {book}?",
        "Help me make flashcards for {concept}.",
        "I don't understand {concept}. Can you give an example?",
        "Write an essay outline about {history_event} and how it relates to {concept}",
        "Compare {concept} and {concept2} in a table.",
    ],
    "health": [
        "Make a {n_weeks}-week {fitness_goal} plan for a beginner.",
        "Is it normal to {symptom} after {activity}?",
        "What stretches help if I {symptom}?",
        "How much protein do I need if I do {activity} {n_small} times a week?",
        "I {symptom} most mornings. Should I see a doctor?",
        "Build me a {fitness_goal} routine I can do at home in {n_minutes} minutes.",
    ],
    "creative": [
        "Write a {poem_form} about {thing} in the style of {style}.",
        "write a short {poem_form} about {thing}",
        "Give me {n_small} name ideas for my {pet}.",
        "Name ideas for a {business} with a {tone} vibe",
        "Continue this story: {filler_s}",
        "Write a birthday message for {relationship} who loves {hobby}.",
        "Give me a plot twist for a story about {thing}.",
    ],
    "finance": [
        "How should I budget {amount} per month with {fin_situation}?",
        "Is it better to pay off {fin_situation} first or invest?",
        "What's the compound interest on {amount} at {pct}% for {n_years} years?",
        "Explain index funds vs ETFs for someone with {fin_situation}.",
        "How much emergency fund do I need with {fin_situation}?",
    ],
    "language": [
        "Translate '{phrase}' into {language}.",
        "What's the difference between {word_pair}?",
        'How do you say "{phrase}" politely in {language}?',
        "Correct my {language} please: {filler_s}",
        "Give me {n_small} {language} phrases for ordering food.",
    ],
    "home": [
        "How do I {diy}?",
        "What tools do I need to {diy}?",
        "How often should I water {plant}?",
        "My {plant} leaves are turning yellow, what's wrong?",
        "Can I {diy} myself or should I call someone?",
    ],
    "family": [
        "My {kid_age}-year-old {kid_issue}. Any advice?",
        "{relationship} {rel_issue}. How do I bring it up without a fight?",
        "How do I support {relationship} who {rel_issue}?",
        "Screen time rules for a {kid_age} year old?",
    ],
    "tech": [
        "My {gadget} {gadget_issue}. What can I try?",
        "{gadget} {gadget_issue} after the latest update, any fix?",
        "Should I replace my {gadget} if it {gadget_issue}?",
        "How do I back up my {gadget} before a factory reset?",
    ],
    "shopping": [
        "What should I look for when buying {product}?",
        "Compare two {product} options under {amount}",
        "Is it worth buying {product} refurbished?",
    ],
    "fun": [
        "Teach me a good opening in {game}",
        "Tips for getting better at {game}?",
        "Give me a trivia quiz about {trivia_topic} with {n_small} questions",
        "Recommend {n_small} books like {book}.",
    ],
    "work": [
        "Turn these notes into meeting minutes:\n{notes}",
        "Write {work_doc} for a {industry} company.",
        "How do I {spreadsheet_task} in Excel?",
        "Rewrite this paragraph to be more concise: {filler_m}",
        "Help me prepare for a {job} interview. What questions should I expect?",
        "Write a cover letter for a {job} position. I have {n_years} years of experience in {industry}.",
        "Summarize this for my manager in 3 bullets: {filler_m}",
    ],
    "ideas": [
        "What are the strongest arguments about {philo}?",
        "Explain {sci_q}.",
        "ELI5 {sci_q}",
        "Is {philo} still taken seriously by philosophers?",
    ],
    "car": [
        "My {car} {car_issue}. Is it safe to drive?",
        "How much should it cost to fix a {car} that {car_issue}?",
    ],
    "summarize": [
        "Summarize this:\n\n{filler_l}",
        "tl;dr please\n{filler_l}",
        "What are the key points of this article? {filler_l}",
        "Can you shorten this to one paragraph? {filler_l}",
    ],
}
CATEGORY_WEIGHTS: dict[str, float] = {
    "email": 10,
    "cooking": 7,
    "code": 12,
    "travel": 6,
    "study": 10,
    "health": 5,
    "creative": 7,
    "finance": 4,
    "language": 5,
    "home": 4,
    "family": 3,
    "tech": 5,
    "shopping": 3,
    "fun": 4,
    "work": 9,
    "ideas": 4,
    "car": 2,
    "summarize": 6,
}

FOREIGN_TEMPLATES: dict[str, list[str]] = {
    "es": [
        "Escribe un correo {tono} a mi {dest} sobre {tema_es}.",
        "¿Qué puedo cocinar con {ingr_es} y {ingr_es2}?",
        "Explícame {concepto_es} con un ejemplo sencillo.",
        "Hazme un itinerario de {n_days} días para {city} en {mes}.",
        "¿Cómo puedo {code_task_es} en {lang}?",
        "Resume este texto en {n_small} puntos: {filler_m}",
        "dame ideas para el cumpleaños de mi {dest}",
    ],
    "pt": [
        "Escreva um e-mail {tono_pt} para o meu {dest_pt} sobre {tema_pt}.",
        "O que posso cozinhar com {ingr_pt} e {ingr_pt2}?",
        "Me explica {concepto_es} de um jeito simples.",
        "Monte um roteiro de {n_days} dias em {city}.",
        "Como faço para {code_task_es} em {lang}?",
        "resume isso pra mim: {filler_m}",
    ],
    "de": [
        "Schreib eine {tono_de} E-Mail an meinen {dest_de} wegen {tema_de}.",
        "Was kann ich mit {ingr_de} und {ingr_de2} kochen?",
        "Erklär mir {concepto_es} einfach.",
        "Plane eine {n_days}-tägige Reise nach {city} im {mes_de}.",
        "Wie kann ich in {lang} {code_task_de}?",
        "Fass diesen Text in {n_small} Punkten zusammen: {filler_m}",
    ],
    "fr": [
        "Écris un e-mail {tono_fr} à mon {dest_fr} à propos de {tema_fr}.",
        "Que puis-je cuisiner avec {ingr_fr} et {ingr_fr2} ?",
        "Explique-moi {concepto_es} simplement.",
        "Organise un voyage de {n_days} jours à {city} en {mes_fr}.",
        "Comment {code_task_fr} en {lang} ?",
        "Résume ce texte en {n_small} points : {filler_m}",
    ],
    "ja": [
        "{dest_ja}に{tema_ja}についての丁寧なメールを書いてください。",
        "{ingr_ja}と{ingr_ja2}で作れる料理を教えて。",
        "{lang}で{code_task_ja}方法を教えてください。",
        "{city}の{n_days}日間の旅行プランを作って。",
        "この文章を{n_small}つのポイントで要約して: {filler_m}",
    ],
    "zh": [
        "帮我给{dest_zh}写一封关于{tema_zh}的邮件，语气要礼貌。",
        "用{ingr_zh}和{ingr_zh2}可以做什么菜？",
        "请用简单的话解释一下{concepto_zh}。",
        "帮我规划一个{n_days}天的{city}旅行行程。",
        "{lang}里怎么{code_task_zh}？",
        "把这段话总结成{n_small}点：{filler_m}",
    ],
}
FOREIGN_V: dict[str, list[str]] = {
    "tono": ["formal", "amable", "breve", "cordial", "firme"],
    "dest": ["jefe", "casero", "profesor", "vecino", "cliente", "hermana", "abuela"],
    "tema_es": [
        "un pago atrasado",
        "pedir vacaciones",
        "una factura incorrecta",
        "una reunión",
        "un reembolso",
        "la entrega del proyecto",
        "una queja por ruido",
    ],
    "ingr_es": ["arroz", "huevos", "pollo", "lentejas", "atún", "calabacín", "garbanzos", "queso"],
    "concepto_es": [
        "la inflación",
        "la fotosíntesis",
        "el interés compuesto",
        "la recursión",
        "la oferta y la demanda",
        "la entropía",
        "el teorema de Bayes",
        "la mitosis",
    ],
    "mes": ["enero", "marzo", "mayo", "julio", "septiembre", "noviembre", "diciembre"],
    "code_task_es": [
        "leer un CSV",
        "ordenar una lista",
        "conectar a una base de datos",
        "hacer una petición HTTP",
        "validar un correo",
        "subir un archivo",
    ],
    "tono_pt": ["formal", "educado", "curto", "gentil"],
    "dest_pt": ["chefe", "professor", "cliente", "síndico", "vizinho"],
    "tema_pt": ["um atraso no pagamento", "férias", "uma reunião", "um reembolso", "o projeto"],
    "ingr_pt": ["arroz", "feijão", "frango", "ovos", "mandioca", "queijo", "banana"],
    "tono_de": ["höfliche", "kurze", "formelle", "freundliche"],
    "dest_de": ["Vermieter", "Chef", "Professor", "Nachbarn", "Kunden"],
    "tema_de": [
        "der Nebenkostenabrechnung",
        "eines Termins",
        "einer Rückerstattung",
        "der Heizung",
        "meines Urlaubs",
    ],
    "ingr_de": ["Kartoffeln", "Eiern", "Linsen", "Spinat", "Hähnchen", "Quark", "Nudeln"],
    "mes_de": ["Januar", "März", "Mai", "Juli", "September", "Dezember"],
    "code_task_de": [
        "eine CSV-Datei lesen",
        "eine Liste sortieren",
        "ein Datum parsen",
        "eine API aufrufen",
    ],
    "tono_fr": ["poli", "formel", "court", "chaleureux"],
    "dest_fr": ["propriétaire", "patron", "professeur", "client", "voisin"],
    "tema_fr": ["un retard de paiement", "mes congés", "une réunion", "un remboursement"],
    "ingr_fr": ["pommes de terre", "œufs", "poireaux", "poulet", "lentilles", "fromage"],
    "mes_fr": ["janvier", "mars", "mai", "juillet", "septembre", "décembre"],
    "code_task_fr": [
        "lire un fichier CSV",
        "trier une liste",
        "appeler une API",
        "gérer les erreurs",
    ],
    "dest_ja": ["上司", "先生", "取引先", "大家さん"],
    "tema_ja": ["会議の日程変更", "納期の遅れ", "休暇の申請", "請求書の誤り"],
    "ingr_ja": ["卵", "豆腐", "鶏肉", "キャベツ", "ご飯", "納豆"],
    "code_task_ja": ["CSVを読み込む", "リストを並べ替える", "APIを呼び出す"],
    "dest_zh": ["老板", "老师", "客户", "房东"],
    "tema_zh": ["会议改期", "请假", "发票错误", "项目延期"],
    "ingr_zh": ["鸡蛋", "豆腐", "土豆", "西红柿", "米饭", "鸡肉"],
    "concepto_zh": ["通货膨胀", "光合作用", "复利", "递归", "熵"],
    "code_task_zh": ["读取CSV文件", "排序列表", "调用API", "处理异常"],
}

# ---------------------------------------------------------------------------------
# Shared-text confounders
# ---------------------------------------------------------------------------------
SDK_SAMPLES = [
    "Hello, Claude",
    "Hello, world",
    "Write a haiku about recursion in programming.",
    "What is the capital of France?",
    "Tell me a joke about computers.",
    "Explain quantum computing in one sentence.",
    "Say hello in five languages.",
    "How many r's are in the word strawberry?",
    "Why is the ocean salty?",
    "Summarize the plot of Hamlet in two sentences.",
]
CI_SMOKE = [
    "Reply with the single word OK.",
    "ping",
    'Return the JSON {"status": "ok"}.',
    "healthcheck: respond with pong",
    "Say 'test passed'.",
    "Respond with the number 42.",
    "Echo back: integration-test",
    "What is 2+2? Answer with a number only.",
]

VIRAL_TEMPLATES: list[str] = [
    "I want you to act as a Linux terminal. I will type commands and you will reply with what "
    "the terminal should show. Only reply with the terminal output inside one unique code block, "
    "and nothing else. Do not write explanations. My first command is {cmd}",
    "Summarise this article in 5 bullets: {filler_l}",
    "Act as a {role}. I will give you {thing_v} and you will {action_v}. My first request is "
    '"{filler_s}"',
    "Explain {concept} to me like I'm five.",
    "Create a 30-day plan to learn {skill}, with one small task per day.",
    "Roast my {roast_target}: {filler_s}",
    "Give me 10 viral hook ideas for a TikTok about {niche}.",
    "You are my brutally honest {mentor}. Here is my {plan_v}: {filler_m} Tear it apart.",
    "Turn this into a Studio Ghibli style image prompt: {filler_s}",
    "From now on, answer as {persona_v}. Stay in character no matter what. First question: {q_v}",
    "Rewrite this so it sounds human and passes AI detectors: {filler_m}",
    "Give me a {n_days}-day meal prep plan for {diet} eating under {amount} a week.",
    "Pretend you are a {job} with 20 years of experience. Review my resume: {filler_m}",
    "What would {celeb} say about {thing}? Write it as a tweet thread.",
]
VIRAL_V: dict[str, list[str]] = {
    "cmd": [
        "pwd",
        "ls -la",
        "cat /etc/os-release",
        "whoami",
        "uname -a",
        "top",
        "git status",
        "echo hello",
        "df -h",
        "ps aux",
        "curl localhost:8080",
        "cd ~ && ls",
    ],
    "role": [
        "travel guide",
        "motivational coach",
        "stand-up comedian",
        "English translator",
        "interviewer",
        "personal trainer",
        "life coach",
        "startup idea generator",
        "Socratic tutor",
        "storyteller",
        "UX reviewer",
        "poet",
        "debate coach",
    ],
    "thing_v": [
        "my location",
        "a topic",
        "a sentence",
        "a situation",
        "a job title",
        "my goals",
        "a word",
        "a product",
    ],
    "action_v": [
        "suggest places to visit",
        "make it funny",
        "correct and improve it",
        "ask me interview questions",
        "give me a plan",
        "write a poem about it",
        "argue the opposite side",
    ],
    "roast_target": [
        "LinkedIn profile",
        "Spotify playlist",
        "startup idea",
        "cover letter",
        "dating profile",
        "bookshelf",
        "code",
        "weekend plans",
    ],
    "niche": [
        "home workouts",
        "budget travel",
        "personal finance",
        "cooking for one",
        "productivity",
        "skincare",
        "dog training",
        "study tips",
        "language learning",
        "woodworking",
        "thrifting",
        "cold plunges",
        "crypto",
        "gardening",
    ],
    "mentor": [
        "business mentor",
        "writing coach",
        "career advisor",
        "investor",
        "editor",
        "fitness coach",
    ],
    "plan_v": [
        "business plan",
        "novel outline",
        "career plan",
        "workout plan",
        "pitch deck",
        "study schedule",
    ],
    "persona_v": [
        "a pirate",
        "Socrates",
        "a 1920s radio host",
        "an overly dramatic cat",
        "a grumpy wizard",
        "a Victorian butler",
    ],
    "q_v": [
        "what should I eat tonight?",
        "how do I become rich?",
        "what is love?",
        "should I quit my job?",
        "why is the sky blue?",
        "what is the meaning of life?",
    ],
    "celeb": [
        "Shakespeare",
        "Einstein",
        "Gordon Ramsay",
        "Marie Curie",
        "Bob Ross",
        "Napoleon",
        "Steve Jobs",
        "Cleopatra",
    ],
}

AGENT_TOOLS = [
    "search_web(query)",
    "read_file(path)",
    "write_file(path, content)",
    "run_python(code)",
    "run_shell(cmd)",
    "http_get(url)",
    "sql_query(query)",
    "send_email(to, subject, body)",
    "calendar.create_event(title, start, end)",
    "browser.click(selector)",
    "browser.open(url)",
    "list_directory(path)",
    "get_weather(city)",
    "calculator(expr)",
    "vector_search(query, k)",
    "git_diff()",
    "run_tests(path)",
    "create_ticket(title, body)",
    "slack.post(channel, text)",
    "fetch_stock_price(ticker)",
    "translate(text, lang)",
    "kb_lookup(id)",
    "crm.update(contact_id, fields)",
    "apply_patch(diff)",
]
AGENT_GOALS = [
    "find the three cheapest flights from {city} to {city2} next month and email a summary",
    "fix the failing unit test in the repository and open a pull request",
    "collect the latest quarterly revenue for five competitors and put it in a table",
    "book a meeting with the team next Tuesday afternoon and send invites",
    "find all TODO comments in the codebase and create tickets for them",
    "download the CSV at the given URL, clean it and compute monthly totals",
    "answer the customer's question using the knowledge base and update the CRM",
    "research {concept} and write a one-page brief with citations",
    "check the weather in {city} and suggest an outdoor activity for the weekend",
    "migrate the users table to add an email_verified column and backfill it",
    "profile the slow endpoint and propose an index",
    "summarise yesterday's Slack messages in the #incidents channel",
    "compare prices for {product} across three shops and report the best deal",
    "scrape the changelog page and list breaking changes since version 2.0",
    "rename the function {func} across the project and update imports",
    "triage the open GitHub issues labelled bug and assign priorities",
    "reconcile the invoices in the finance folder against the bank export",
    "translate the README into {language} and commit it",
]
REPO_NAMES = [
    "acme/billing-service",
    "payments-api",
    "web-frontend",
    "internal/etl-pipeline",
    "ml-platform",
    "orders-svc",
    "mobile-app",
    "infra/terraform",
    "data-tools",
    "search-indexer",
    "auth-gateway",
    "analytics-dashboard",
    "cli-tool",
    "sdk-python",
]
CODE_TASKS_AGENT = [
    "make the failing test test_{func}_{ident} pass",
    "add pagination to the /{ident}s endpoint",
    "fix the race condition in the {ident} cache",
    "add retries with exponential backoff to the HTTP client",
    "upgrade the ORM and fix the deprecation warnings",
    "add input validation to the {func} handler",
    "refactor {ident}_utils.py into smaller modules",
    "add type hints to the {ident} module",
    "implement rate limiting per API key",
    "fix the timezone bug in the {ident} report",
    "add a --dry-run flag to the CLI",
    "remove the dead code in legacy/{ident}.py",
    "write integration tests for the {ident} service",
    "speed up the {func} job by batching writes",
]

# Distillation-campaign topic space (subject x aspect), covered systematically by
# rotating campaigns.
TOPIC_SUBJECTS = [
    "linear algebra",
    "organic chemistry",
    "contract law",
    "thermodynamics",
    "graph algorithms",
    "macroeconomics",
    "probability theory",
    "number theory",
    "Python concurrency",
    "SQL query optimisation",
    "cell biology",
    "electromagnetism",
    "real analysis",
    "compiler design",
    "operating systems",
    "distributed consensus",
    "cryptography",
    "microeconomics",
    "pharmacology",
    "statistics",
    "quantum mechanics",
    "game theory",
    "computer networks",
    "databases",
    "combinatorics",
    "genetics",
    "control theory",
    "signal processing",
    "corporate finance",
    "epidemiology",
    "machine learning theory",
    "Rust ownership",
    "TypeScript generics",
    "Kubernetes scheduling",
    "geometry",
    "differential equations",
    "tax law",
    "immunology",
    "information theory",
    "optimisation",
]
TOPIC_ASPECTS = [
    "common misconceptions",
    "a worked example",
    "edge cases",
    "a proof technique",
    "a real-world application",
    "an exam-style problem",
    "the historical development",
    "a comparison with alternatives",
    "failure modes",
    "a step-by-step derivation",
    "a debugging scenario",
    "a quantitative estimate",
    "an interview question",
    "a counterexample",
]

CRITERIA = [
    "helpfulness",
    "harmlessness",
    "honesty",
    "factual accuracy",
    "verbosity",
    "instruction following",
    "coherence",
    "safety",
    "reasoning quality",
    "tone",
    "completeness",
    "conciseness",
    "creativity",
    "refusal appropriateness",
]
SENSITIVE = [
    "specific political leaders",
    "territorial disputes",
    "historical protests",
    "criticism of government policy",
    "religious controversies",
    "ethnic tensions",
    "election integrity",
    "human rights cases",
    "censorship itself",
    "state media",
]
QA_KEYS = [
    '"question", "reasoning", "answer"',
    '"prompt", "chain_of_thought", "final"',
    '"q", "steps", "a"',
    '"instruction", "rationale", "output"',
]

FILLER_PREFIX = [
    "Quick one.",
    "For a study guide I'm writing:",
    "Hi!",
    "Need this for work.",
    "Hello, hope you're well.",
    "Question:",
    "Please help with this.",
    "Another one:",
    "Next item.",
    "Okay,",
    "Hey there.",
    "Task:",
    "I'm preparing course material.",
    "Small favour:",
    "Thanks for the last one.",
]
FILLER_SUFFIX = [
    "Thanks in advance.",
    "Please be thorough.",
    "Take your time.",
    "This is important.",
    "Appreciate it!",
    "Be as detailed as possible.",
    "Thank you.",
    "Much appreciated.",
    "No need to be brief.",
    "Cheers.",
]
SYNONYMS: dict[str, list[str]] = {
    "Explain": ["Describe", "Spell out", "Lay out", "Walk me through"],
    "step by step": ["one step at a time", "in sequential steps", "stepwise", "step-by-step"],
    "following": ["below", "next", "subsequent"],
    "response": ["reply", "answer", "completion", "output"],
    "Rewrite": ["Rephrase", "Revise", "Redo", "Rework"],
    "reasoning": ["thinking", "thought process", "line of reasoning", "logic"],
    "an answer": ["a response", "a solution", "a reply"],
    "the answer": ["the result", "the solution"],
    "Grade": ["Score", "Rate", "Evaluate", "Mark"],
    "evaluate": ["assess", "judge", "score"],
    "Generate": ["Produce", "Create", "Write", "Come up with"],
    "tools": ["functions", "tool functions", "capabilities"],
    "task": ["job", "assignment", "objective"],
    "detailed": ["thorough", "in-depth", "complete"],
    "Make": ["Render", "Turn"],
    "every": ["each", "every single"],
    "politically sensitive": [
        "politically charged",
        "sensitive political",
        "controversial political",
    ],
    "Use": ["Make use of", "Employ", "Rely on"],
    "better": ["stronger", "preferable", "superior"],
    "Do not": ["Don't", "Please don't", "Never"],
}


def _compile(tpls: list[str]) -> list[tuple[str, tuple[tuple[str, str], ...]]]:
    out = []
    for t in tpls:
        slots = tuple((m.group(1) + m.group(2), m.group(1)) for m in _SLOT.finditer(t))
        out.append((t, slots))
    return out


@dataclass
class Persona:
    """How one benign account writes: interests, language, style and extra sources."""

    cats: list[str]
    cat_cum: list[float]
    lang: str = "en"
    p_foreign: float = 0.0
    lower: bool = False
    terse: bool = False
    prefix: str = ""
    suffix: str = ""
    p_deco: float = 0.0
    typo: float = 0.0
    # extra prompt sources: list of (cumulative prob, kind, arg)
    extras: list[tuple[float, str, object]] = field(default_factory=list)


@dataclass
class House:
    """A campaign's fixed choices for one template family (survive paraphrasing)."""

    family: str
    phr: dict[str, int]
    alt2: dict[str, tuple[int, int]]
    anchors: dict[str, str]
    pool: list[dict[str, str]]
    topics: list[tuple[str, str]]


class TextGen:
    """All prompt generators, sharing one ``random.Random``."""

    def __init__(self, r: random.Random) -> None:
        self.r = r
        self.rnd = r.random
        self.cats = list(BENIGN_TEMPLATES)
        self.cat_w = [CATEGORY_WEIGHTS[c] for c in self.cats]
        tot = sum(self.cat_w)
        self.cat_cum = [sum(self.cat_w[: i + 1]) / tot for i in range(len(self.cat_w))]
        self.cat_cum[-1] = 1.0
        self.tpl = {c: _compile(v) for c, v in BENIGN_TEMPLATES.items()}
        self.ftpl = {c: _compile(v) for c, v in FOREIGN_TEMPLATES.items()}
        self.viral = _compile(VIRAL_TEMPLATES)
        self.vocab: dict[str, list[str]] = {**VOCAB, **FOREIGN_V, **VIRAL_V}
        self.special: dict[str, Callable[[], str]] = {
            "filler_s": lambda: self.sentence(),
            "filler_m": lambda: self.prose(2, 4),
            "filler_l": lambda: self.prose(5, 11),
            "notes": self.notes,
            "code": self.code,
            "n_small": lambda: str(2 + int(self.rnd() * 9)),
            "n_minutes": lambda: str((2 + int(self.rnd() * 11)) * 5),
            "n_people": lambda: str(2 + int(self.rnd() * 10)),
            "n_days": lambda: str(2 + int(self.rnd() * 13)),
            "n_hours": lambda: str(3 + int(self.rnd() * 12)),
            "n_weeks": lambda: str(4 + int(self.rnd() * 13)),
            "n_years": lambda: str(1 + int(self.rnd() * 25)),
            "pct": lambda: f"{1 + self.rnd() * 9:.1f}",
            "industry": lambda: self.pick(INDUSTRIES),
            "func": lambda: self.pick(CODE_FUNC) + "_" + self.pick(CODE_IDENT),
            "ident": lambda: self.pick(CODE_IDENT),
        }
        self.sdk_samples = SDK_SAMPLES
        self.ci_smoke = CI_SMOKE
        self.n_viral = len(VIRAL_TEMPLATES)
        self._syn_keys = list(SYNONYMS)
        self.bank: list[str] | None = None

    # ------------------------------------------------------------------ primitives
    def pick(self, lst):
        return lst[int(self.rnd() * len(lst))]

    def fill(
        self, compiled: tuple[str, tuple[tuple[str, str], ...]], extra: dict | None = None
    ) -> str:
        tpl, slots = compiled
        if not slots:
            return tpl
        d = {}
        vocab, special, rnd = self.vocab, self.special, self.rnd
        for key, base in slots:
            if extra is not None and key in extra:
                d[key] = extra[key]
            elif base in special:
                d[key] = special[base]()
            else:
                lst = vocab[base]
                d[key] = lst[int(rnd() * len(lst))]
        return tpl.format(**d)

    def make_bank(self, size: int) -> None:
        """Pre-generate ``size`` filler sentences; afterwards :meth:`sentence` draws from
        the bank (a sentence then recurs a handful of times across a large world, like
        pasted boilerplate does, while multi-sentence texts stay unique)."""
        self.bank = None
        self.bank = [self.sentence() for _ in range(size)]

    def sentence(self) -> str:
        bank = self.bank
        if bank is not None:
            return bank[int(self.rnd() * len(bank))]
        rnd = self.rnd
        A, N, W, D, T = FILLER_ADJ, FILLER_NOUNS, FILLER_VERBS, FILLER_ADV, FILLER_TAIL
        la, ln, lw, ld, lt = _LA, _LN, _LW, _LD, _LT
        u = rnd()
        if u < 0.3:
            s = (
                f"The {A[int(rnd() * la)]} {N[int(rnd() * ln)]} {W[int(rnd() * lw)]} "
                f"the {N[int(rnd() * ln)]} {D[int(rnd() * ld)]}"
            )
        elif u < 0.5:
            s = (
                f"{D[int(rnd() * ld)].capitalize()}, the {N[int(rnd() * ln)]} {W[int(rnd() * lw)]} "
                f"its {A[int(rnd() * la)]} {N[int(rnd() * ln)]}, {T[int(rnd() * lt)]}"
            )
        elif u < 0.68:
            s = (
                f"A {A[int(rnd() * la)]} {N[int(rnd() * ln)]} {W[int(rnd() * lw)]} "
                f"{2 + int(rnd() * 97)} {N[int(rnd() * ln)]}s {T[int(rnd() * lt)]}"
            )
        elif u < 0.84:
            s = (
                f"Our {N[int(rnd() * ln)]} {W[int(rnd() * lw)]} the {A[int(rnd() * la)]} "
                f"{N[int(rnd() * ln)]} plan, and the {N[int(rnd() * ln)]} {W[int(rnd() * lw)]} "
                f"{D[int(rnd() * ld)]}"
            )
        else:
            s = (
                f"Nobody expected the {N[int(rnd() * ln)]} to be {W[int(rnd() * lw)]} "
                f"by the {A[int(rnd() * la)]} {N[int(rnd() * ln)]} {D[int(rnd() * ld)]}"
            )
        return s + "."

    def prose(self, lo: int, hi: int) -> str:
        n = lo + int(self.rnd() * (hi - lo + 1))
        return " ".join(self.sentence() for _ in range(n))

    def notes(self) -> str:
        n = 3 + int(self.rnd() * 5)
        return "\n".join(
            f"- {self.pick(FILLER_NOUNS)} {self.pick(FILLER_VERBS)} {self.pick(FILLER_ADV)}"
            for _ in range(n)
        )

    def code(self) -> str:
        p, rnd = self.pick, self.rnd
        f, a, b, c, k = p(CODE_FUNC), p(CODE_IDENT), p(CODE_IDENT), p(CODE_IDENT), p(CODE_IDENT)
        num = 2 + int(rnd() * 50)
        u = rnd()
        if u < 0.4:
            return (
                f"def {f}_{a}({b}, {c}=None):\n    out = []\n    for x in {b}:\n"
                f"        if x.get('{k}') is not None:\n            out.append(x['{k}'] * {num})\n"
                f"    return out"
            )
        if u < 0.7:
            return (
                f"function {f}{a.capitalize()}({b}) {{\n  const {c} = {b}.filter(x => x.{k} > {num});\n"
                f"  return {c}.map(x => x.{k});\n}}"
            )
        return (
            f"SELECT {a}, COUNT(*) AS n FROM {b}s WHERE {k} > {num}\n"
            f"GROUP BY {a} ORDER BY n DESC LIMIT {num % 20 + 5};"
        )

    # ------------------------------------------------------------------ benign
    def persona(self, country_lang: str, *, cats: list[str] | None = None) -> Persona:
        r, rnd = self.r, self.rnd
        if cats is None:
            k = 1 + int(rnd() * 4)
            cats = r.choices(self.cats, weights=self.cat_w, k=k)
        w = [rnd() + 0.2 for _ in cats]
        tot = sum(w)
        cum, acc = [], 0.0
        for x in w:
            acc += x / tot
            cum.append(acc)
        cum[-1] = 1.0
        p_foreign = 0.0
        if country_lang != "en":
            p_foreign = 0.1 + 0.6 * rnd() if rnd() < 0.6 else 0.0
        return Persona(
            cats=cats,
            cat_cum=cum,
            lang=country_lang,
            p_foreign=p_foreign,
            lower=rnd() < 0.22,
            terse=rnd() < 0.2,
            prefix=self.pick(
                ["", "", "", "hi ", "hey, ", "Hello! ", "ok so ", "Hi Claude, ", "pls "]
            ),
            suffix=self.pick(["", "", "", " thanks", " thx", " thank you!", " :)", "??", " asap"]),
            p_deco=rnd() * 0.5,
            typo=0.15 if rnd() < 0.2 else 0.0,
        )

    def style(self, p: Persona, s: str) -> str:
        rnd = self.rnd
        if p.p_deco and rnd() < p.p_deco:
            s = p.prefix + s + p.suffix
        if p.lower:
            s = s.lower()
        if p.terse and s[-1:] in ".?!":
            s = s[:-1]
        if p.typo and rnd() < p.typo and len(s) > 12:
            i = 1 + int(rnd() * (len(s) - 3))
            s = s[:i] + s[i + 1] + s[i] + s[i + 2 :]
        return s

    def benign_one(self, p: Persona) -> str:
        rnd = self.rnd
        if p.extras:
            u = rnd()
            for cp, kind, arg in p.extras:
                if u < cp:
                    return self.extra(kind, arg, p)
        if p.p_foreign and rnd() < p.p_foreign and p.lang in self.ftpl:
            return self.style(p, self.fill(self.pick(self.ftpl[p.lang])))
        cat = p.cats[bisect.bisect_left(p.cat_cum, rnd())]
        return self.style(p, self.fill(self.pick(self.tpl[cat])))

    def generic(self) -> str:
        """One prompt from a random category, no persona (cover traffic, grader inputs)."""
        cat = self.cats[bisect.bisect_left(self.cat_cum, self.rnd())]
        return self.fill(self.pick(self.tpl[cat]))

    def extra(self, kind: str, arg, p: Persona) -> str:
        if kind == "viral":
            return self.viral_prompt(
                arg if isinstance(arg, int) else int(self.rnd() * self.n_viral)
            )
        if kind == "sdk":
            return arg if isinstance(arg, str) else self.pick(self.sdk_samples)
        if kind == "homework":
            return self.homework_copy(arg)
        if kind == "company":
            return self.style(p, self.company_prompt(arg))
        if kind == "agent_dev":
            return self.agent_dev(arg)
        if kind == "stepwise":
            return self.style(p, self.stepwise_student())
        if kind == "teacher":
            return self.teacher_rubric()
        if kind == "eval":
            return self.eval_researcher(arg)
        if kind == "labeler":
            return self.labeler(arg)
        if kind == "seo":
            return self.seo(arg)
        if kind == "fixed":
            return arg
        raise KeyError(kind)

    def viral_prompt(self, i: int) -> str:
        s = self.fill(self.viral[i])
        if self.rnd() < 0.15:
            s = s.lower()
        return s

    # homework: a course assignment text, pasted verbatim or with tiny edits
    def homework_text(self, course: str) -> str:
        rnd, q = self.rnd, 1 + int(self.rnd() * 9)
        a, b, c = 1 + int(rnd() * 9), 2 + int(rnd() * 40), 10 + int(rnd() * 90)
        forms = [
            f"Q{q}. A firm has the cost function C(q) = {a}q^2 + {b}q + {c}. If the market price is ${b * 3 + a}, "
            f"find the profit-maximizing output and the resulting profit. Show all work.",
            f"Problem {q}: Write a function that returns the {a + 1}th largest element in an unsorted array "
            f"of n integers without using a built-in sort. Analyze its time complexity.",
            f"{q}) A ball is thrown upward at {b} m/s from a {c} m cliff. How long until it hits the ground? "
            f"(g = 9.8 m/s^2) Give your answer to two decimal places.",
            f"Exercise {q}: Prove by induction that 1 + 3 + 5 + ... + (2n-1) = n^2 for all n >= 1.",
            f"Q{q}: A sample of {c} observations has mean {b}.{a} and standard deviation {a}.{q}. Construct "
            f"a 95% confidence interval for the population mean and interpret it.",
            f"Lab {q}: Calculate the molarity of a solution made by dissolving {a * 5}.{q} g of NaCl in "
            f"{c * 5} mL of water.",
            f"{course} HW{q}: Discuss the role of {self.pick(V['concept'])} in {self.pick(V['history_event'])}. "
            f"Answer in about 500 words and cite two sources.",
            f"Question {q}. Let A be the {a + 1}x{a + 1} matrix with ones on the diagonal and {b} elsewhere. "
            f"Find its eigenvalues.",
            f"Problem set {q}, part (b): Using a truth table, show that (p -> q) is equivalent to (~q -> ~p).",
        ]
        return (
            f"[{course}] " + forms[int(rnd() * len(forms))]
            if rnd() < 0.3
            else forms[int(rnd() * len(forms))]
        )

    def homework_copy(self, text: str) -> str:
        u = self.rnd()
        if u < 0.55:
            return text
        if u < 0.65:
            return text.lower()
        if u < 0.75:
            return (
                self.pick(
                    ["pls solve: ", "help with this: ", "solve step by step: ", "can u do this "]
                )
                + text
            )
        if u < 0.85:
            return text + self.pick(
                [" show steps", " explain please", "\n\nI'm stuck", " (due tonight)"]
            )
        if u < 0.93:
            return text.replace("  ", " ").replace(". ", ".  ", 1)
        return re.sub(r"^(Q\d+\.|Problem \d+:|\d+\)|Exercise \d+:|Question \d+\.)\s*", "", text)

    def company_prompt(self, ctx: tuple[str, str, str]) -> str:
        name, product, industry = ctx
        u = self.rnd()
        p = self.pick
        if u < 0.14:
            return f"Draft a customer email explaining the {product} outage on {p(EXTRA_V['weekday'])}. {self.sentence()}"
        if u < 0.26:
            return f"Write release notes for {product} {1 + int(self.rnd() * 5)}.{int(self.rnd() * 20)}: {self.prose(2, 4)}"
        if u < 0.38:
            return f"Summarize this {name} customer feedback into themes: {self.prose(3, 6)}"
        if u < 0.48:
            return f"Write a job post for a {p(V['job'])} at {name}, a {industry} company."
        if u < 0.58:
            return f"Create a slide outline for our Q{1 + int(self.rnd() * 4)} review of {product}."
        if u < 0.68:
            return (
                f'Rewrite our {product} landing page headline to be punchier: "{self.sentence()}"'
            )
        if u < 0.76:
            return f"SQL to get weekly active users of {product} from an events table with columns {p(CODE_IDENT)}, {p(CODE_IDENT)}, ts"
        return self.fill(self.pick(self.tpl[p(["work", "work", "email", "code", "summarize"])]))

    def stepwise_student(self) -> str:
        a, b, c = 2 + int(self.rnd() * 30), 2 + int(self.rnd() * 30), 2 + int(self.rnd() * 99)
        return self.pick(
            [
                f"can you explain step by step how to solve {a}x + {b} = {c}",
                f"Explain step by step how to find the derivative of x^{a % 6 + 2} * sin(x)",
                f"walk me through this step by step: a train leaves at {a % 12 + 1}pm going {c} km/h...",
                f"Step by step, how do I balance this equation: {self.pick(_EQUATIONS)}",
                f"Show me step by step how to convert {c} to binary",
                f"how do i solve {a}/{b} + {b}/{c}? show the steps please",
            ]
        )

    def teacher_rubric(self) -> str:
        return (
            f"Grade this {self.pick(EXTRA_V['grade_level'])} essay out of {self.pick(['5', '10', '20', '100'])} "
            f"using this rubric: {self.pick(EXTRA_V['criteria_edu'])}. Give short feedback for the student.\n\n"
            + self.prose(4, 9)
        )

    def eval_researcher(self, house: tuple[str, str]) -> str:
        crit, fmt = house
        return (
            f"Rate the following model answer on {crit}. {fmt}\n\nQuestion: {self.generic()}\n\n"
            f"Answer: {self.prose(2, 5)}"
        )

    def agent_dev(self, tools: str) -> str:
        g = self.fill(self.pick(_AGENT_GOALS))
        u = self.rnd()
        if u < 0.35:
            return f"You are an agent with tools [{tools}]. Call the tools to {g}."
        if u < 0.7:
            return f"System: you can call {tools}.\nUser: {g}"
        return f"testing my agent loop - tools: {tools}. task: {g}. respond with the first tool call as json"

    def labeler(self, task: str) -> str:
        return (
            f'{task}\n\n"{self.sentence()} {self.sentence() if self.rnd() < 0.5 else ""}"'.rstrip()
        )

    def seo(self, niche: str) -> str:
        n = self.pick(["800", "1200", "1500", "2000"])
        return self.pick(
            [
                f"Write a {n}-word SEO article about {niche} targeting the keyword '{self.pick(V['product'])} {niche}'.",
                f"Give me 20 long-tail keywords for {niche}.",
                f"Write meta descriptions for 5 blog posts about {niche}.",
                f"Rewrite this product description to rank for '{niche}': {self.prose(2, 3)}",
            ]
        )

    # ------------------------------------------------------------------ campaigns
    def make_house(self, family: str, n_pool: int = 12) -> House:
        r, rnd, p = self.r, self.rnd, self.pick
        fam = FAMILIES[family]
        phr = {k: int(rnd() * len(v)) for k, v, _ in fam.clauses}
        alt2 = {k: (int(rnd() * len(v)), int(rnd() * len(v))) for k, v, _ in fam.clauses}
        anchors = {
            "format": p(fam.formats),
            "criteria": ", ".join(r.sample(CRITERIA, 2 + int(rnd() * 3))),
            "scale": p(["1-10", "1-5", "0-100", "1-7"]),
            "tools": ", ".join(r.sample(AGENT_TOOLS, 3 + int(rnd() * 4))),
            "sensitive": p(SENSITIVE),
            "keys": p(QA_KEYS),
            "k": p(["5", "8", "10", "3", "20"]),
            "repo": p(REPO_NAMES),
            "ptype": p(["problem", "question", "puzzle", "exercise"]),
            "verb": p(["solve", "answer", "work out", "arrive at the answer to"]),
            "domain": p(list(_PROBLEMS)),
        }
        subjects = r.sample(TOPIC_SUBJECTS, 10 + int(rnd() * 20))
        topics = [(s, a) for s in subjects for a in TOPIC_ASPECTS]
        h = House(family=family, phr=phr, alt2=alt2, anchors=anchors, pool=[], topics=topics)
        h.pool = [self._body(h, i) for i in range(n_pool)]
        return h

    def _body(self, h: House, k: int) -> dict[str, str]:
        a = h.anchors
        f = h.family
        subj, asp = h.topics[k % len(h.topics)]
        if f == "cot" or f == "critique":
            return {"problem": _PROBLEMS[a["domain"]](self, subj)}
        if f == "rubric":
            return {"q": self.generic(), "resp": self.prose(2, 6)}
        if f == "pairwise":
            return {"q": self.generic(), "resp": self.prose(2, 4), "resp2": self.prose(2, 4)}
        if f == "rewrite":
            return {
                "resp": f"{self.sentence()} Regarding {a['sensitive']}, {self.sentence().lower()} {self.prose(1, 3)}"
            }
        if f == "agent_tools":
            return {"goal": self.fill(self.pick(_AGENT_GOALS))}
        if f == "agent_code":
            files = ", ".join(
                f"{self.pick(CODE_IDENT)}/{self.pick(CODE_FUNC)}.py" for _ in range(3)
            )
            return {"task": self.fill(self.pick(_CODE_TASKS)), "files": files}
        if f == "synth_qa":
            return {"topic": f"{subj} ({asp})"}
        raise KeyError(f)

    def campaign_prompt(self, h: House, mode: str, k: int, acct_alt: int = 0) -> str:
        """One campaign prompt.

        mode: ``fixed`` (one phrasing, body from a small pool: near-duplicates),
        ``topics`` (one phrasing, body walks the topic space by ``k``),
        ``limited`` (two phrasings per clause, fresh bodies), ``paraphrase`` (free
        re-wording that keeps only the skeleton and the anchors).
        """
        rnd = self.rnd
        fam = FAMILIES[h.family]
        a = h.anchors
        if mode == "fixed":
            body = dict(h.pool[int(rnd() * len(h.pool))])
            if "problem" in body and rnd() < 0.5:
                body["problem"] = re.sub(
                    r"\d+", lambda m: str(int(m.group()) + int(rnd() * 3)), body["problem"], count=1
                )
        elif mode == "topics":
            body = self._body(h, k)
            if h.family in ("cot", "critique"):
                subj, asp = h.topics[k % len(h.topics)]
                body["problem"] = f"Topic: {subj}, {asp}. " + body["problem"]
            elif h.family in ("rubric", "pairwise"):
                subj, asp = h.topics[k % len(h.topics)]
                body["q"] = f"Explain {asp} in {subj}."
        else:
            body = self._body(h, int(rnd() * 100000))
        vals = {**a, **body}
        parts: list[str] = []
        movable: list[str] = []
        for key, alts, mov in fam.clauses:
            if mode in ("fixed", "topics"):
                s = alts[h.phr[key]]
            elif mode == "limited":
                s = alts[h.alt2[key][acct_alt & 1]]
            else:
                if mov and rnd() < 0.2:
                    continue
                s = alts[int(rnd() * len(alts))]
                s = self._synonyms(s)
            (movable if (mov and mode == "paraphrase") else parts).append(s)
        if movable:
            self.r.shuffle(movable)
            parts.extend(movable)
        parts.append(a["format"])
        instr = " ".join(parts).format(**vals)
        text = fam.body_tpl.format(**vals)
        if mode == "paraphrase":
            out = text + "\n\n" + instr if rnd() < 0.3 else instr + "\n\n" + text
            if rnd() < 0.45:
                out = self.pick(FILLER_PREFIX) + " " + out
            if rnd() < 0.35:
                out = out + " " + self.pick(FILLER_SUFFIX)
            if rnd() < 0.1:
                out = out[0].lower() + out[1:]
            return out
        if mode == "limited" and rnd() < 0.2:
            return self.pick(FILLER_PREFIX) + " " + instr + "\n\n" + text
        return instr + "\n\n" + text

    def _synonyms(self, s: str) -> str:
        rnd = self.rnd
        for key in _SYN_IN.get(s, ()):
            if rnd() < 0.5:
                s = _SYN_RX[key].sub(self.pick(SYNONYMS[key]).replace("\\", "\\\\"), s, count=1)
        return s


# ---------------------------------------------------------------------------------
# Campaign families: clauses (key, alternative phrasings, movable?), format anchors,
# and the body layout.
# ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Family:
    clauses: tuple[tuple[str, tuple[str, ...], bool], ...]
    formats: tuple[str, ...]
    body_tpl: str


FAMILIES: dict[str, Family] = {
    "cot": Family(
        clauses=(
            (
                "intro",
                (
                    "Explain step by step the reasoning you used to {verb} the following {ptype}.",
                    "Walk through, step by step, the reasoning needed to {verb} this {ptype}.",
                    "Show your full chain of thought before answering the {ptype} below.",
                    "Before giving any answer, write out your complete internal reasoning for how to {verb} this {ptype}.",
                    "Think out loud and articulate every step of your reasoning as you {verb} the {ptype} that follows.",
                    "I need the detailed reasoning trace, not just the answer: {verb} the following {ptype}.",
                ),
                False,
            ),
            (
                "detail",
                (
                    "Do not skip intermediate steps.",
                    "Make every intermediate step explicit, even trivial ones.",
                    "Explain why each step follows from the previous one.",
                    "Include any checks you do along the way and any dead ends.",
                    "List the assumptions you make before you start.",
                ),
                True,
            ),
        ),
        formats=(
            "Wrap the reasoning in <think></think> tags and put the final answer after it.",
            "End with a line of the form 'Final answer: <answer>'.",
            "Number each step (Step 1, Step 2, ...) and box the final answer.",
            'Return JSON with keys "reasoning_steps" (a list) and "final_answer".',
            "Write the reasoning first, then '### Answer' and the answer.",
        ),
        body_tpl="{problem}",
    ),
    "critique": Family(
        clauses=(
            (
                "intro",
                (
                    "Answer the question below, then critique your own answer and write an improved final version.",
                    "First draft an answer, then list its weaknesses, then give a revised answer.",
                    "Give an answer, review it for mistakes as a harsh critic, and produce a corrected answer.",
                    "Solve this, then check your own reasoning for errors and output a refined solution.",
                ),
                False,
            ),
            (
                "detail",
                (
                    "Be specific about every error you find.",
                    "The final version should be self-contained.",
                    "Explain the reasoning behind each change.",
                ),
                True,
            ),
        ),
        formats=(
            "Label the sections DRAFT, CRITIQUE, FINAL.",
            'Use JSON keys "draft", "critique", "final".',
            "Separate the three parts with '---'.",
        ),
        body_tpl="Question: {problem}",
    ),
    "rubric": Family(
        clauses=(
            (
                "intro",
                (
                    "Grade the following response on a {scale} rubric for {criteria}.",
                    "You are a strict evaluator. Score the response below on a {scale} scale for each of: {criteria}.",
                    "Act as a reward model: rate the assistant reply on {criteria}, using a {scale} scale.",
                    "Please evaluate this answer against a rubric covering {criteria}; use a {scale} scale.",
                    "Assess the quality of the response below. Criteria: {criteria}. Scale: {scale}.",
                ),
                False,
            ),
            (
                "detail",
                (
                    "Justify each score in one or two sentences.",
                    "Give a score per criterion and explain the main deduction.",
                    "Be harsh; most responses should not get full marks.",
                    "Point out concrete errors before scoring.",
                ),
                True,
            ),
        ),
        formats=(
            'Output JSON: {{"scores": {{...}}, "overall": <number>, "rationale": "..."}}.',
            "Answer in the form 'criterion: score - reason', one per line, then 'TOTAL: x'.",
            "Finish with 'Overall: <score>'.",
            "Put the scores in a markdown table, then a one-line verdict.",
        ),
        body_tpl="Prompt: {q}\n\nResponse: {resp}",
    ),
    "pairwise": Family(
        clauses=(
            (
                "intro",
                (
                    "Which of the two responses below is better?",
                    "Compare Response A and Response B and decide which one a careful user would prefer.",
                    "You are judging a preference dataset. Pick the better completion.",
                    "Rank these two candidate answers to the same prompt.",
                ),
                False,
            ),
            (
                "detail",
                (
                    "Consider {criteria}.",
                    "Focus on {criteria}.",
                    "Weigh {criteria} above everything else.",
                ),
                True,
            ),
        ),
        formats=(
            "Reply with exactly 'A' or 'B' on the first line, then a short reason.",
            'Output {{"preferred": "A" or "B", "margin": 1-5}}.',
            "Answer '[[A]]' or '[[B]]' and nothing else.",
        ),
        body_tpl="Prompt: {q}\n\n[Response A]\n{resp}\n\n[Response B]\n{resp2}",
    ),
    "rewrite": Family(
        clauses=(
            (
                "intro",
                (
                    "Rewrite the following answer so it avoids politically sensitive content about {sensitive}.",
                    "Produce a version of this response that would pass a strict content review on {sensitive}.",
                    "Edit the answer below to remove anything politically sensitive regarding {sensitive}, keeping the rest.",
                    "Make the following text safe for publication in a tightly regulated market (no {sensitive}).",
                    "Sanitize this answer: strip or soften politically sensitive material about {sensitive}.",
                ),
                False,
            ),
            (
                "detail",
                (
                    "Keep the factual core and roughly the original length.",
                    "Do not mention that anything was removed.",
                    "Preserve the tone and structure of the original.",
                    "Replace sensitive references with neutral wording rather than deleting them.",
                ),
                True,
            ),
        ),
        formats=(
            "Return only the rewritten answer.",
            "Return the rewrite, then a list of the changes you made.",
            'Output JSON with "rewritten" and "removed_topics".',
        ),
        body_tpl="Original answer:\n{resp}",
    ),
    "agent_tools": Family(
        clauses=(
            (
                "intro",
                (
                    "You are an agent with tools [{tools}]. Call the tools to {goal}.",
                    "You have access to the following tools: {tools}. Use them to {goal}.",
                    "Act as an autonomous agent. Available tools: {tools}. Your task: {goal}.",
                    "Tools available -> {tools}. Goal: {goal}. Plan, then call tools one at a time.",
                    "Operate as a tool-using assistant ({tools}) and {goal}.",
                ),
                False,
            ),
            (
                "detail",
                (
                    "Think step by step about which tool to call next.",
                    "After each tool call, reflect on the result before continuing.",
                    "Do not ask the user for clarification; make reasonable assumptions.",
                    "Minimise the number of tool calls.",
                ),
                True,
            ),
        ),
        formats=(
            'Respond only with JSON tool calls of the form {{"tool": ..., "args": {{...}}}}.',
            "Use the format Thought: / Action: / Action Input: / Observation:.",
            "Emit each call as <tool_call>{{...}}</tool_call>.",
        ),
        body_tpl="(Simulate the tool outputs yourself and continue until the goal is reached.)",
    ),
    "agent_code": Family(
        clauses=(
            (
                "intro",
                (
                    "You are a coding agent working in the repository {repo}. Task: {task}.",
                    "As an autonomous software engineer with shell access to {repo}, {task}.",
                    "Agentic coding task in {repo}: {task}.",
                    "You control a terminal in a checkout of {repo}. Please {task}.",
                ),
                False,
            ),
            (
                "detail",
                (
                    "Run the tests after every change.",
                    "Explain your plan before editing any file.",
                    "Use the tools {tools} to inspect the code first.",
                    "Keep the diff minimal.",
                ),
                True,
            ),
        ),
        formats=(
            "Output the final change as a unified diff.",
            "Reply with the sequence of shell commands and file edits as JSON.",
            "End with a summary of the files changed.",
        ),
        body_tpl="Relevant files: {files}",
    ),
    "synth_qa": Family(
        clauses=(
            (
                "intro",
                (
                    "Generate {k} diverse question-answer pairs about {topic}, each with detailed step-by-step reasoning.",
                    "Create {k} training examples on {topic}: a hard question, a worked solution showing all reasoning, and a final answer.",
                    "Write {k} challenging problems about {topic} with full solutions that explain every reasoning step.",
                ),
                False,
            ),
            (
                "detail",
                (
                    "Vary the difficulty.",
                    "Avoid trivial questions.",
                    "Cover different subtopics.",
                ),
                True,
            ),
        ),
        formats=(
            "Output JSON lines with keys {keys}.",
            "Use the format Q: / Reasoning: / A: for each item.",
        ),
        body_tpl="Subject area: {topic}",
    ),
}
FAMILY_NAMES = list(FAMILIES)

_SYN_RX = {k: re.compile(r"(?<![{\w])" + re.escape(k) + r"(?![}\w])") for k in SYNONYMS}
_SYN_IN: dict[str, tuple[str, ...]] = {}
for _fam in FAMILIES.values():
    for _k, _alts, _m in _fam.clauses:
        for _s in _alts:
            _SYN_IN[_s] = tuple(k for k in SYNONYMS if _SYN_RX[k].search(_s))

_AGENT_GOALS = _compile(AGENT_GOALS)
_EQUATIONS = [
    "Fe + O2 -> Fe2O3",
    "C3H8 + O2 -> CO2 + H2O",
    "Al + HCl -> AlCl3 + H2",
    "KClO3 -> KCl + O2",
    "NH3 + O2 -> NO + H2O",
    "C6H12O6 + O2 -> CO2 + H2O",
    "Na + H2O -> NaOH + H2",
    "Cu + HNO3 -> Cu(NO3)2 + NO + H2O",
    "Fe2O3 + CO -> Fe + CO2",
    "P4 + O2 -> P2O5",
]
_CODE_TASKS = _compile(CODE_TASKS_AGENT)


def _p_math(g: TextGen, subj: str) -> str:
    rnd = g.rnd
    a, b, c = 2 + int(rnd() * 60), 2 + int(rnd() * 60), 2 + int(rnd() * 500)
    return g.pick(
        [
            f"A tank fills at {a} L/min and drains at {b % a + 1} L/min. Starting with {c} L, when does it hold {c * 3} L?",
            f"Find all integers n with 1 <= n <= {c} such that n^2 + {a} is divisible by {b % 11 + 2}.",
            f"If f(x) = {a}x^3 - {b}x + {c}, find the local extrema and classify them.",
            f"How many ways can {a % 9 + 3} people sit around a round table if two of them refuse to sit together?",
            f"A shop discounts a ${c} item by {a % 40 + 5}% and then adds {b % 15 + 5}% tax. What is the final price?",
            f"Solve the system {a}x + {b}y = {c}, {b}x - {a}y = {a + b}.",
        ]
    )


def _p_prob(g: TextGen, subj: str) -> str:
    rnd = g.rnd
    a, b = 2 + int(rnd() * 9), 2 + int(rnd() * 30)
    return g.pick(
        [
            f"Two dice are rolled {a} times. What is the probability that a double six appears at least once?",
            f"A test is {90 + a}% sensitive and {80 + a}% specific for a condition with {b / 10:.1f}% prevalence. "
            f"Given a positive test, what is the probability of having the condition?",
            f"You draw {a} cards from a standard deck without replacement. What is the probability that all are hearts?",
            f"A random walk starts at 0 and moves +1 or -1 with equal probability. What is the chance it reaches {a} before -{b % 7 + 1}?",
        ]
    )


def _p_logic(g: TextGen, subj: str) -> str:
    names = g.r.sample(["Ana", "Ben", "Chen", "Dara", "Eli", "Fatima", "Gus", "Hiro", "Ines"], 4)
    return g.pick(
        [
            f"{names[0]} says {names[1]} is lying. {names[1]} says {names[2]} is lying. {names[2]} says both "
            f"{names[0]} and {names[1]} are lying. Who tells the truth?",
            f"{names[0]}, {names[1]}, {names[2]} and {names[3]} finished a race. {names[0]} was not last, "
            f"{names[1]} beat {names[2]}, and {names[3]} finished right after {names[0]}. What was the order?",
            f"In a village, every barber shaves exactly those who do not shave themselves. {names[0]} is a barber. "
            f"Does {names[0]} shave themself? Explain the paradox.",
        ]
    )


def _p_code(g: TextGen, subj: str) -> str:
    rnd = g.rnd
    n = 10 ** (3 + int(rnd() * 4))
    return g.pick(
        [
            f"Given an array of up to {n} integers, find the length of the longest subarray with sum exactly k.",
            f"Design an algorithm to detect a cycle in a directed graph with {n} nodes and analyse its complexity.",
            f"Write a function that merges overlapping intervals; inputs can have up to {n} intervals.",
            f"Implement an LRU cache with O(1) get and put; capacity up to {n}.",
            f"Given a string of length {n}, count distinct palindromic substrings efficiently.",
        ]
    )


def _p_science(g: TextGen, subj: str) -> str:
    rnd = g.rnd
    a, b = 2 + int(rnd() * 90), 2 + int(rnd() * 90)
    return g.pick(
        [
            f"A {a} kg block slides down a {b % 60 + 10} degree incline with friction coefficient 0.{b % 9 + 1}. Find its acceleration.",
            f"How much energy is needed to heat {a} g of ice at -{b % 30} C to steam at 100 C?",
            f"A gas at {a} kPa and {b + 250} K is compressed to half its volume adiabatically. What is the final temperature?",
            f"Estimate the number of piano tuners in a city of {a * 50000} people.",
        ]
    )


def _p_subject(g: TextGen, subj: str) -> str:
    return g.pick(
        [
            f"What is the most common misconception about {subj}, and why is it wrong?",
            f"Derive the key result in {subj} from first principles.",
            f"Pose a hard exam problem in {subj} of your choice, then solve it.",
            f"Why does the standard approach in {subj} fail on edge cases?",
        ]
    )


_PROBLEMS: dict[str, Callable[[TextGen, str], str]] = {
    "math": _p_math,
    "probability": _p_prob,
    "logic": _p_logic,
    "algorithms": _p_code,
    "science": _p_science,
    "subject": _p_subject,
}


def random_label(r: random.Random, n: int = 6) -> str:
    """A short random lower-case token (used for names that must not collide)."""
    return "".join(r.choice(string.ascii_lowercase) for _ in range(n))
