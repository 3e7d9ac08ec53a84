"""Split a reply body into the text its author just wrote and the quoted rest.

Why: command tags act only in new text (docs/REFERENCE §4, "Tags inside quoted text
never act"), so a `#resolve` quoted back in a customer's or an engineer's
reply must never fire. When in doubt the splitter cuts: losing a line of new
text is better than letting quoted history act. The cut is line-based, so a
person can predict it. The new text ends at the first of:

- a separator line: "-----Original Message-----" and its translations
  ("Ursprüngliche Nachricht", "Mensaje original", "原始邮件", QQ/Foxmail's
  "------------------ 原始邮件 ------------------", NetEase's
  "---- 回复的原邮件 ----"), forward markers ("---------- Forwarded message",
  "Begin forwarded message:", "转发的邮件：");
- a header block: a "From:" line in one of a dozen languages (From, Von, De,
  Da, Van, Från, Fra, 发件人, 寄件者, 差出人 …) followed within 8 lines by two
  more header lines (Sent/Date/To/Cc/Subject/Reply-To, Gesendet/An/Betreff,
  Envoyé/À/Objet, 发送时间/收件人/主题 …), or by one "Sent:"/"发送时间:" line;
- an explicit attribution, on one line or wrapped over up to five:
  "On … wrote:", "Le … a écrit :", "Am … schrieb …:", "El … escribió:",
  "Il … ha scritto:", "Op … schreef …:", "Em … escreveu:", "Den … skrev …:",
  "… написал(а):", "… napisał(a):", "在 … 写道：", "… 於 … 寫道：",
  "… のメッセージ:", "X <x@y> wrote:", "X schrieb am <date>:", and date-first
  ones ("2016-03-03 17:21 GMT+01:00 X", "2013/7/20 X <x@y>",
  "вт, 5 янв. 2016 г. в 23:39, X <x@y>:"). A bare "X wrote:" (no date, no
  address, no opening "On") counts only when a quote follows;
- the signature delimiter "--" / "-- ";
- a mobile footer: "Sent from my iPhone", "Get Outlook for iOS",
  "发自我的iPhone" and the like anywhere; after a blank line also the looser
  "Sent from/via/with …", "Envoyé depuis mon …", "Von meinem … gesendet",
  "Inviato da …", "Sendt fra min …", "从我的 iPhone 傳送", "iPhoneから送信";
- a `>` quote block that runs to the end of the body or into one of the above.

Two refinements keep bottom-posted and inline replies working: a `>` block
(or an attribution introducing one) that is followed by more new text does
not end the new text, but its lines are moved out of it, so quoted tags still
never act. Decoration lines ("____", "-----", Gmail's "ᐧ") left just above the
cut go with the quoted rest.

One pass over the lines; each line is looked at a bounded number of times
(header blocks look 8 lines ahead, attributions 5) and every pattern runs on
a line of at most 300 characters or on a bounded slice: linear in the size of
the body.
"""

from __future__ import annotations

import re

_QUOTE = re.compile(r"[ \t]*(?:>|[A-Z]{1,3}>(?=[ \t>]|$))")  # also supercite "JD> "
_DECORATION = re.compile(r"[ \t]*[-_,=+~#*ᐧ—–]+[ \t]*")
_MAX_ATTRIBUTION = 300  # longer lines are never a reply header
_WINDOW = 5  # an attribution may be wrapped over this many lines

_SEPARATOR = re.compile(
    r"[ \t*]*(?:-+[ \t]*(?:original message|forwarded message|reply message"
    r"|message d'origine|message transféré|ursprüngliche nachricht|weitergeleitete nachricht"
    r"|mensaje original|mensaje reenviado|messaggio originale|messaggio inoltrato"
    r"|oorspronkelijk bericht|doorgestuurd bericht|originalmeddelande|opprinnelig melding"
    r"|oprindelig meddelelse|alkuperäinen viesti|wiadomość oryginalna|исходное сообщение"
    r"|пересылаемое сообщение|原始邮件|原始郵件|邮件原件|郵件原件|回复的原邮件|转发的原邮件"
    r"|转发邮件信息|元のメッセージ|転送メッセージ)[ \t]*-*"
    r"|(?:begin forwarded message|début du message réexpédié|anfang der weitergeleiteten "
    r"nachricht|inicio del mensaje reenviado|inizio messaggio inoltrato|以下是转发的邮件"
    r"|转发的邮件|転送されたメッセージ)[ \t]*[:：]?)[ \t*]*",
    re.I,
)
_SIGNATURE = re.compile(r"--[ \t]*")
# Footers that end the new text wherever they stand.
_FOOTER = re.compile(
    r"[ \t]*(?:Sent from my (?:iPhone|iPad|iPod|Android|BlackBerry|Samsung|Galaxy|Huawei"
    r"|Xiaomi|Honor|Pixel|mobile|phone|smartphone|Windows Phone)\b[^.!?]{0,30}"
    r"|Sent from (?:Mail|Outlook|Yahoo Mail)\b(?: for| on)?[\w ]{0,20}"
    r"|Get Outlook for (?:iOS|Android)\S*"
    r"|(?:发自|来自|寄自)我的\s*(?:iPhone|iPad|Android|手机|华为|小米|荣耀|三星|OPPO|vivo)\S{0,10}"
    r"|(?:发自|来自)\s*(?:网易邮箱大师|网易邮箱|QQ邮箱|Foxmail)\S{0,10}"
    r"|從我的\s*(?:iPhone|iPad|Android|手機)\s*傳送)"
    r"[ \t]*"
)
# Looser footers, trusted only after a blank line (or at the top) and on a short line.
_LOOSE_FOOTER = re.compile(
    r"[(<\s]*(?:sent (?:from|via|with|by) \S.*|\w+ from mobile.*|from my \S.{0,20}"
    r"|get outlook for .+|envoyé (?:depuis|de) (?:mon|ma|yahoo).*|von meinem .+ gesendet.*"
    r"|diese nachricht wurde von .+ gesendet.*|inviato da.+|inviato dal mio .+"
    r"|sendt fra min .+|skickat från min .+|enviado (?:do|desde) (?:meu|mi) .+"
    r"|verzonden (?:met|vanaf) .+|verstuurd (?:met|vanaf) .+|lähetetty .+"
    r"|\S{1,20}から送信|(?:从|從)我的\s*\S{1,15}\s*(?:发送|傳送))",
    re.I,
)
_LINKS = re.compile(r"\[([^\]]{0,200})\]\([^)]{0,500}\)|<?https?://\S{0,500}>?")

_FROM = ("from|von|de|da|van|från|fra|od|от|lähettäjä|feladó|发件人|寄件者|寄件人|差出人"
         "|보낸 사람")
_SENT = ("sent|发送时间|gesendet|envoyé|enviado|enviada em|skickat|sendt|verzonden|отправлено"
         "|送信日時|寄件日期")
_OTHER = (_SENT + "|date|datum|data|fecha|дата|日期|时间|時間|보낸 날짜|to|an|à|a|para"
          "|aan|till|til|do|кому|收件人|收件者|宛先|받는 사람|cc|kopie|抄送|副本|subject|betreff"
          "|objet|asunto|assunto|oggetto|onderwerp|ämne|emne|temat|тема|主题|主旨|件名|제목"
          "|reply-to|antwort an|répondre à|risposta|beantwoorden - aan|expéditeur|destinataire")
_HEADER = re.compile(
    rf"[ \t*]*(?:(?P<from>{_FROM})|(?P<sent>{_SENT})|(?P<other>{_OTHER}))[ \t*]*[:：]", re.I)

# Attributions. Latin verbs must not be glued to a preceding letter; CJK ones may be.
_VERB = (r"(?:(?<![^\W\d_])(?:wrote|a\s+écrit|nous\s+a\s+dit|schrieb(?:en\s+Sie)?"
         r"|(?:(?:het\s+)?volgende\s+)?geschreven|escribió|escreveu|ha\s+scritto|scrisse"
         r"|schreef|skrev|napisał(?:\(a\)|a)?|napsal(?:\(a\)|a)?|написал(?:\(а\)|а)?|пишет"
         r"|пише|написав|kirjoitti|írta|yazdı)|写道|寫道|のメッセージ|님이\s*작성)")
_VERB_END = re.compile(_VERB + r"[\s:：.\-]*$", re.I)
_OPENER = re.compile(
    r"(?:on|at|le|am|el|il(?: giorno)?|op|em|den|dnia|dňa|w dniu|dne|på|в|在|於)(?=[\s\d,，])",
    re.I)
_VERB_MID = re.compile(r"(?<!\w)(?:schreef|skrev|schrieb|написал\w*|kirjoitti)(?!\w)", re.I)
_WROTE_ON = re.compile(r"(?<!\w)(?:wrote|schrieb|a écrit|escribió)\s+(?:on|am|le|el)\s.*\d",
                       re.I)
_ISO_GMAIL = re.compile(r"20\d\d-\d\d-\d\d \d\d?:\d\d GMT[+-]\d\d:\d\d\s")
_DATE_START = re.compile(
    r"\W{0,3}(?:\w{1,12}\.?,?\s+)?(?:\d{4}[-/.年]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}"
    r"|\d{1,2}\.?\s+\w{2,12}\.?,?\s+\d{4})")
_ISO_START = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}\b")
_DATEISH = re.compile(r"\d{4}|\d{1,2}:\d{2}|\d{1,2}[./-]\d{1,2}")
_EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
_EMAIL_END = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+>?\)?[ \t]*[:：]?$")
_ANGLE_EMAIL = re.compile(r"<[^<>@\s]+@[^<>\s]+>|<$")
_END_CANDIDATE = re.compile(r"(?:[:：>]|" + _VERB + r"[\s.\-]*)$", re.I)
_SENTENCE_END = re.compile(r"(?:[^\W\d_]{4}[.!?。！？]+|[!?。！？])$")  # not "28." nor "Fr."


def _strip_attribution(text: str) -> str:
    return text.strip().strip("-* \t")


def _is_footer(line: str, after_blank: bool) -> bool:
    if len(line) > 500:
        return False
    if _FOOTER.fullmatch(line):
        return True
    if not after_blank:
        return False
    plain = _LINKS.sub(lambda m: m.group(1) or "", line).strip()
    return len(plain) <= 60 and bool(_LOOSE_FOOTER.fullmatch(plain))


def _kind(text: str) -> str:
    """"explicit", "bare" or "" for one (possibly joined) candidate attribution."""
    s = _strip_attribution(text)
    if not s or len(s) > _MAX_ATTRIBUTION:
        return ""
    colon = s.endswith((":", "："))
    if _VERB_END.search(s[-30:]):
        if _OPENER.match(s) or (colon and (_DATEISH.search(s) or _EMAIL.search(s)
                                           or " via " in s)):
            return "explicit"
        return "bare" if colon else ""
    if colon and ((_OPENER.match(s) and _VERB_MID.search(s)) or _WROTE_ON.search(s)):
        return "explicit"
    if _ISO_GMAIL.match(s):
        return "explicit"
    if _EMAIL_END.search(s[-120:]) and (_ISO_START.match(s) or (colon and _DATEISH.search(s))):
        return "explicit"
    return ""


def _window_start(line: str) -> bool:
    """Can this line open an attribution wrapped over several lines?"""
    s = _strip_attribution(line)
    if not s or len(s) > 200 or _SENTENCE_END.search(s[-8:]):
        return False
    if _OPENER.match(s):
        return any(c.isdigit() for c in s)
    return bool(_DATE_START.match(s) or _ANGLE_EMAIL.search(s))


class _Splitter:
    """One body's lines with the look-ahead tables the cut rules need."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        n = len(lines)
        self.n = n
        self.blank = [not line.strip() for line in lines]
        self.quote = [bool(_QUOTE.match(line)) for line in lines]
        self.header = [self._header_kind(line) for line in lines]
        # For each line: the next non-blank line, and the next line neither quote nor blank.
        self.nonblank, self.unquoted = [n] * (n + 1), [n] * (n + 1)
        for i in range(n - 1, -1, -1):
            self.nonblank[i] = self.nonblank[i + 1] if self.blank[i] else i
            skip = self.blank[i] or self.quote[i]
            self.unquoted[i] = self.unquoted[i + 1] if skip else i
        self.memo: dict[int, bool] = {}
        self.attr_memo: dict[int, tuple[int, bool]] = {}

    @staticmethod
    def _header_kind(line: str) -> str:
        m = _HEADER.match(line[:80])
        if m is None:
            return ""
        return "from" if m.group("from") else "sent" if m.group("sent") else "other"

    def header_block(self, i: int) -> bool:
        """A "From:" line followed by two more header lines (or one "Sent:") within 8,
        or another header line followed by three, one of them "From:"."""
        if not self.header[i]:
            return False
        after = [kind for kind in self.header[i + 1 : i + 9] if kind]
        if self.header[i] == "from":
            return len(after) - after.count("from") >= 2 or "sent" in self.header[i + 1 : i + 4]
        return len(after) >= 3 and "from" in after

    def boundary(self, i: int) -> bool:
        """A line that ends the new text by itself (separator, header block, signature, footer)."""
        line = self.lines[i]
        if len(line) <= 500 and (_SEPARATOR.fullmatch(line) or _SIGNATURE.fullmatch(line)):
            return True
        return self.header_block(i) or _is_footer(line, i == 0 or self.blank[i - 1])

    def attribution(self, i: int) -> tuple[int, bool]:
        """(lines spanned, explicit?) of an attribution ("On … wrote:") starting at line i."""
        if i not in self.attr_memo:
            self.attr_memo[i] = self._attribution(i)
        return self.attr_memo[i]

    def _attribution(self, i: int) -> tuple[int, bool]:
        if self.quote[i] or self.blank[i] or len(self.lines[i]) > _MAX_ATTRIBUTION:
            return 0, False
        kind = _kind(self.lines[i])
        if kind:
            return 1, kind == "explicit"
        if not _window_start(self.lines[i]):
            return 0, False
        parts = [self.lines[i].strip()]
        for j in range(i + 1, min(i + _WINDOW, self.n)):
            line = self.lines[j]
            if self.blank[j]:
                continue
            if len(line) > 200 or self.header[j] or _SEPARATOR.fullmatch(line):
                break
            parts.append(line.strip().lstrip("> \t"))
            if _END_CANDIDATE.search(line.rstrip()[-30:]):
                kind = _kind(" ".join(parts))
                if kind:
                    return j - i + 1, kind == "explicit"
        return 0, False

    def quote_ends(self, i: int) -> bool:
        """Does the quote block at i run to the end, or into a reply header?"""
        j = self.unquoted[i]
        if j not in self.memo:
            self.memo[j] = j >= self.n or self.boundary(j) or self.attribution(j)[1]
        return self.memo[j]

    def classify(self, i: int) -> tuple[str, int]:
        """("cut" | "quoted" | "text", lines spanned) for line i."""
        if self.boundary(i):
            return "cut", 0
        span, explicit = self.attribution(i)
        if span:
            k = self.nonblank[i + span]
            if k < self.n and self.quote[k]:
                return ("cut", 0) if self.quote_ends(k) else ("quoted", span)
            if explicit:
                return "cut", 0
        if self.quote[i]:
            return ("cut", 0) if self.quote_ends(i) else ("quoted", 1)
        return "text", 1


def split_reply(text: str) -> tuple[str, str]:
    """Return (new_text, quoted_rest): what the author wrote vs. quoted history and signature."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    splitter = _Splitter(lines)
    keep: list[str] = []
    moved: list[str] = []
    i = 0
    while i < len(lines):
        kind, span = splitter.classify(i)
        if kind == "cut":
            break
        (keep if kind == "text" else moved).extend(lines[i : i + span])
        i += span
    tail = lines[i:]
    if tail:  # decoration just above the cut ("_____" over Outlook's From:) goes with it
        last = cut = len(keep)
        while last > 0 and (not keep[last - 1].strip() or _DECORATION.fullmatch(keep[last - 1])):
            last -= 1
            cut = last if keep[last].strip() else cut
        keep, tail = keep[:cut], keep[cut:] + tail
    return "\n".join(keep).strip("\n").rstrip(), "\n".join(moved + tail)
