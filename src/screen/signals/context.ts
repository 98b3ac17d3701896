/*
 * Benign context: what makes alarming words harmless. Each marker is 0..1; the phrase signals
 * dampen their rules with them (signals/patterns.ts), and fusion reports them as the `context`
 * signal.
 *
 *   gaming     game vocabulary: round, match, gg, boss, respawn, ranked, lobby, noob …
 *   joking     banter markers: lol, lmao, jk, haha, 😂, 💀, xd
 *   quote      reported speech: quotation marks around several words, "he said", "told me", "sent me"
 *   report     asking about or warning of abuse: "how do i report", "is this allowed", "reported",
 *              "is this a scam", "don't click", "psa"
 *   news       news, fiction, history and counter-speech: "the article says", "in the movie",
 *              "police said", "was arrested", "calling people vermin is dehumanising"
 *   hyperbole  self-deprecating exaggeration: "this exam is killing me", "dying laughing", "kill me now"
 *              and everyday troubles (exam, homework, monday, traffic) said in jest
 *   support    talking someone through a crisis: "if you feel", "you're not alone", "988", "reach out"
 */
import type { NormalizedText } from '../text.js';
import type { ContextMarkers } from './types.js';

const GAMING_WORDS = new Set(
  (
    'gg ggs ggwp wp ez round rounds match matches game games gaming gamer gamers boss bosses level levels lvl respawn respawned respawning spawn ' +
    'spawned spawnkill spawncamp noob noobs nub newb n00b ranked lobby queue raid raids pvp pve 1v1 2v2 3v3 5v5 duel duels kd frag fragged ' +
    'headshot headshots clutch carry carried loot aim aimbot teammate teammates mid jungle lane tank healer dps nerf nerfed buff buffed patch mmr ' +
    'elo elim elims camping camper sniper snipe sniped rush gank ganked ult ulti scrim scrims tournament bracket arena dungeon mob mobs npc quest ' +
    'minecraft fortnite valorant cod warzone apex overwatch lol dota csgo cs2 smash chess checkmate rematch bo3 bo5 ' +
    'controller xbox ps5 lag lagging ping fps hitbox killcam killstreak speedrun speedrunner pokemon ' +
    'mario zelda elden bossfight grind grinding xp rank rankup uninstall hardstuck fifa 2k mariokart ' +
    'tilted teamkill teamkilled revive revived rez squad squads duos trios royale pubg ' +
    'lobbies opponent opponents enemy enemies flank flanking zombies zombie creeper dragon sword guild clan tower towers defend nexus inhib flag ' +
    'objective hp mana champion champ champs hero heroes character char map spawnpoint checkpoint base bases ambush maining main sniper fragger ' +
    'tekken kombat streetfighter roblox gta halo destiny tarkov siege r6 hearthstone yugioh splatoon monopoly uno poker chess checkers scrabble madden nba2k rocket league among amongus battlefield'
  ).split(' '),
);
// "lol" counts as joking, not as the game League of Legends, unless other game words are there.
GAMING_WORDS.delete('lol');

const JOKING_TOKENS = new Set(['emolaugh', 'emoskull', 'lol', 'lmao', 'lmfao', 'rofl', 'jk', 'jks', 'haha', 'hahaha', 'hahah', 'hehe', 'xd', 'lel', 'kek', 'lool', 'loool', 'lulw', 'kekw', 'omegalul', 'jokes', 'joking', 'kidding', 'bruh', 'ez']);
const JOKING_RE = /[😂🤣💀😆😜😝😛🙃😹]|(?:^|\s)(?:[:;]-?[pd)]|xd)(?:\s|$)|\b(?:ha){2,}\b|\blo+l\b|\blma+o+\b/i;

/** "not joking", "i mean it": the opposite of banter. */
const EARNEST_RE = /\b(?:(?:not|no|aint|wasnt|isnt|im not|i m not)(?: even)? (?:joking|kidding|a joke|joke)|im serious|i m serious|i mean it|for real this time|dead serious)\b/;
const QUOTED_RE = /["“”«»„]([^"“”«»„]{4,200})["“”«»„]|(?:^|[\s(:])'([^']{4,200})'(?=$|[\s.,!?):;—-])/;
const REPORTED_SPEECH =
  /\b(?:(?:he|she|they|someone|somebody|this guy|this girl|some guy|some girl|some kid|a guy|a girl|a user|this user|my friend|my brother|my sister|my ex|people|random|a random|stranger|a stranger|this person|that person)(?: \w+)? (?:said|says|told|tells|wrote|writes|sent|sends|dmed|dmd|messaged|messages|texted|keeps saying|keeps sending|keeps telling|kept saying|called me|calls me|commented|replied|posted|threatened|yelled|screamed|typed|types|shouted|whispered|tweeted|commented|snapped|responded|answered)|told me|telling me|sent me|said to me|wrote to me|messaged me|dmed me|texted me|called me|keeps saying|kept saying|got (?:a|this|these|an?) (?:dm|message|messages|text|comment|email|mail)|received (?:a|this|these) (?:dm|message|messages|text|comment|email)|got dms|getting dms|said quote|quote unquote|(?:keep|keeps|kept) (?:posting|spamming|sending|dming|messaging|commenting|texting|saying|telling|writing|threatening|calling (?:me|him|her|them|my \w+))|texting me|texts me|(?:being|getting|got|was|were|been|get|gets) (?:told|called|sent|messaged)|called (?:me|him|her|them|my \w+) an?|spam ?bots?|bots? (?:keep|keeps|are|is) (?:posting|spamming)|(?:tell|telling|told|tells|say|saying|said|type|typing|typed|call|calling|called)(?: \w+)? (?:people|someone|somebody|others|anyone|strangers|each other|kids|players|other people|him|her|them|someone else) (?:to|that)|people (?:who|that) (?:say|tell|type|post|write|call))\b/;
const REPORT_RE =
  /\b(?:how (?:do|can|should|would|to) (?:i|we|you|u|one) (?:report|block|flag|deal with|handle|get help)|how to report|report (?:him|her|them|this|that|it|a user|someone|somebody|the user|users|people|harassment|abuse|threats?|a threat|this guy|these|those|him to|to (?:the )?(?:mods|admins|police|discord|twitch|trust|staff))|reported (?:him|her|them|it|this|that|the|to)|i reported|ive reported|already reported|report button|is (?:it|this|that) (?:against the rules|allowed|ok to say|okay to say|bannable|reportable|a scam|legit|safe|real|phishing|a threat)|against (?:the )?(?:tos|rules|guidelines|terms|community guidelines)|is this (?:a )?scam|scam alert|psa|heads up|beware|(?:be careful|watch out|warning)(?: \w+){0,6} (?:scam|scams|scammer|scammers|phishing|fake|dont click|do not click|bots?|hackers?|links?)|scam warning|dont click|do not click|never click|report and block|block and report|its a scam|is a scam|thats a scam|fake link|phishing|scams?|scammers?|scammy|never trust|dont trust|do not trust|dont fall for|do not fall for|fell for|falling for|should i (?:report|block|tell|be worried|call)|what (?:should|do|can) i do|mods? (?:please|pls|plz|help)|atmention mods|dear mods|can (?:a )?(?:mod|admin)|i blocked|blocked (?:him|her|them|it|the account|that account|the user)|muted (?:him|her|them)|(?:someone|somebody|people|they|he|she|a guy|this guy|some guy|a user|this user|this account) (?:is|are|was|were|keeps?|kept|has been|have been) (?:threatening|harassing|bullying|stalking|spamming|sending|dming|messaging|posting)|is (?:this|that|it) (?:normal|okay|ok|serious|harassment|bullying|illegal|a crime|reportable|grooming)|screenshotted|screenshots? of|the police|called the cops|trust and safety|safety team)\b/;
const NEWS_RE =
  /\b(?:in the (?:movie|film|show|series|book|novel|episode|song|lyrics|anime|manga|trailer|comic|play|game s story|story|news|article|video|documentary|finale)|the (?:article|report|news|study|paper|documentary|podcast|headline|headlines|author|historian|police|suspect|court|jury|judge|victim|victims|attacker|gunman|shooter|defendant|prosecutor|prosecution|villain|character|protagonist|narrator|scene|plot|book|movie|film|show|episode|lyrics)|according to|reportedly|allegedly|was (?:arrested|charged|sentenced|convicted|jailed|indicted|detained)|were (?:arrested|charged|killed|shot|injured|wounded)|(?:police|officials|authorities|investigators|prosecutors|reporters|witnesses|experts|researchers|historians) (?:said|say|says|reported|confirmed|believe|found|are)|breaking news|news|historically|in history|world war|ww2|wwii|the nazis|propaganda|dehumani[sz]\w*|racist|racism|bigot|bigots|bigotry|bigoted|hate speech|hate crimes?|slur|slurs|stereotyp\w*|xenophob\w*|homophob\w*|transphob\w*|misogyn\w*|islamophob\w*|antisemit\w*|(?:(?:is|are|its|it s|thats|that s|it is|was) (?:not|never)|isnt|arent|wasnt) (?:ok|okay|acceptable|cool|funny|a joke)|unacceptable|stop saying|stop calling|people (?:who|that) (?:say|call|post|write)|calling (?:people|them|immigrants|refugees|women|gay people|trans people|others)|called (?:them|immigrants|refugees|women)|lyric|quote from|quoting|villain says|line from|the line|grooming|groomers|predators (?:use|often|usually)|(?:usually|often|always) (?:starts?|begins?) with|red flags?|warning signs?|scams? (?:always|usually|often)|(?:always|usually|often) say)\b/;
const HYPERBOLE_RE =
  /\b(?:(?:is|are|was|were|its|thats|s|re) (?:literally |actually |lowkey |highkey |slowly |so )?killing me|killing me (?:lol|lmao|rn|softly|haha|ngl|fr)|(?:im|i am|were|we are) (?:literally |actually |lowkey )?(?:dying|dead|deceased|crying|screaming)(?: (?:lol|lmao|rn|haha|laughing|inside|of (?:laughter|laughing|cringe|embarrassment|boredom)))?|dying (?:of |from )?(?:laughter|laughing|inside|of cringe|of embarrassment|of boredom)|died (?:laughing|of laughter|of embarrassment|of cringe|inside)|i could (?:literally )?die|kill me now|shoot me now|just kill me|somebody kill me|someone kill me|end me|send help|i want to die of|could die of|so embarrassing|embarrassed|cringe|killing it|killed it|slayed|slay|murdered (?:it|that)|nailed it)\b/;
const TRIVIAL_WORDS = new Set(
  (
    'exam exams homework hw finals midterms midterm class classes lecture lectures essay essays assignment assignments deadline deadlines work ' +
    'shift meeting meetings monday mondays traffic commute heat weather taxes laundry wifi chemistry math calculus physics test tests quiz ' +
    'project presentation interview hangover cramps allergies song cringe embarrassing laughing funny joke meme memes spicy tacos food ' +
    'school college uni university semester thesis dissertation overtime job boss coffee alarm morning mornings cold hot humidity ' +
    'printer excel spreadsheet code bug bugs compile deploy standup zoom emails inbox gym leg legs cardio diet hunger hungry pizza season finale episode'
  ).split(' '),
);
const SUPPORT_RE =
  /\b(?:if (?:you|u|youre|ur|anyone|someone|somebody) (?:are|is|re|ever|feel|feels|feeling|have|has|need|r|is ever|are ever|start|struggling)(?! reading)|youre not alone|you are not alone|ur not alone|reach out|hotline|helpline|988|crisis (?:line|text|lifeline|center)|samaritans|suicide prevention|prevention|awareness|talk to someone|please (?:get|seek) help|here for you|here if you need|are you (?:ok|okay|alright|safe|doing ok)|r u ok|u ok|check on|warning signs|mental health (?:resources|month|day)|you matter|please stay|please dont|text home to|therapist|counsel+or)\b/;

export function detectContext(t: NormalizedText): ContextMarkers {
  const evidence: string[] = [];
  const { norm, tokens, lower } = t;

  let gamingCount = 0;
  let jokingTok = false;
  let trivialCount = 0;
  for (const tok of tokens) {
    if (GAMING_WORDS.has(tok)) gamingCount++;
    if (JOKING_TOKENS.has(tok)) jokingTok = true;
    if (TRIVIAL_WORDS.has(tok)) trivialCount++;
  }
  // "lol" alongside game words is League of Legends banter either way.
  const gaming = gamingCount >= 2 ? 1 : gamingCount === 1 ? 0.6 : 0;
  if (gaming > 0) evidence.push(`gaming context (${gamingCount} game word${gamingCount > 1 ? 's' : ''})`);

  const joking = (jokingTok || JOKING_RE.test(t.original)) && !EARNEST_RE.test(norm) ? 1 : 0;
  if (joking) evidence.push('joking markers');

  let quote = 0;
  const q = QUOTED_RE.exec(t.original) ?? QUOTED_RE.exec(lower);
  if (q && (q[1] ?? q[2] ?? '').trim().split(/\s+/).length >= 2) quote = 0.6;
  if (REPORTED_SPEECH.test(norm)) quote = 1;
  if (quote) evidence.push(quote === 1 ? 'reported speech' : 'quoted words');

  const report = REPORT_RE.test(norm) ? 1 : 0;
  if (report) evidence.push('reporting or warning about abuse');

  const news = NEWS_RE.test(norm) ? 1 : 0;
  if (news) evidence.push('news, fiction or discussion');

  let hyperbole = HYPERBOLE_RE.test(norm) ? 1 : 0;
  if (!hyperbole && trivialCount > 0) hyperbole = joking ? 0.7 : 0.4;
  if (hyperbole) evidence.push(hyperbole === 1 ? 'hyperbole' : 'everyday trouble');

  const support = SUPPORT_RE.test(norm) ? 1 : 0;
  if (support) evidence.push('supportive framing');

  return { gaming, joking, quote, report, news, hyperbole, support, evidence };
}

/**
 * Context markers computed on first use: most messages match no rule, and then nobody asks what
 * context they were said in.
 */
export function lazyContext(t: NormalizedText): ContextMarkers {
  return new Deferred(() => detectContext(t));
}

/** A lazily derived view of `ctx` (e.g. with one marker overridden). */
export function deriveContext(ctx: ContextMarkers, fn: (c: ContextMarkers) => ContextMarkers): ContextMarkers {
  return new Deferred(() => fn(ctx instanceof Deferred ? ctx.resolve() : ctx));
}

/** Getters on the prototype, so that making one costs an allocation and nothing else. */
class Deferred implements ContextMarkers {
  private m: ContextMarkers | undefined;
  constructor(private readonly compute: () => ContextMarkers) {}
  resolve(): ContextMarkers {
    return (this.m ??= this.compute());
  }
  get gaming() {
    return this.resolve().gaming;
  }
  get joking() {
    return this.resolve().joking;
  }
  get quote() {
    return this.resolve().quote;
  }
  get report() {
    return this.resolve().report;
  }
  get news() {
    return this.resolve().news;
  }
  get hyperbole() {
    return this.resolve().hyperbole;
  }
  get support() {
    return this.resolve().support;
  }
  get evidence() {
    return this.resolve().evidence;
  }
}
