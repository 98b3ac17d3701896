/*
 * Spam and scams: links (shorteners, throwaway TLDs, brand look-alike domains), free-nitro /
 * giveaway / airdrop bait, crypto doubling, "DM me for investment returns", "click here to
 * claim", phishing urgency ("verify your account or it will be suspended"), and repeated promo
 * text. A link alone is weak; a link with bait or urgency is not. Warnings about scams ("psa:
 * don't click the free nitro link") dampen it.
 */
import type { NormalizedText } from '../text.js';
import { clip } from '../text.js';
import { combineHits, combineRaw, compileRules, contextFactor, hitEvidence, matchRules, type RuleDef, type RuleHit } from './patterns.js';
import type { ContextMarkers, Dampening, SignalResult } from './types.js';
import type { RiskFlag } from '../../models/index.js';

const URL_IN_LOWER = /\b(?:https?:\/\/|www\.)[^\s<>"']+|\b[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.[a-z]{2,12}\/[^\s<>"']*|\b[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.(?:com|net|org|io|gg|xyz|top|click|gift|gifts|ru|tk|ml|ga|cf|gq|cn|icu|buzz|live|online|site|shop|work|rest|fit|loan|win|bid|pw|cc|su|info|biz|me|co|ly|app|link|store|club|fun|vip|best|today|pro|tv|us|uk|de|in|sbs|cfd|monster|cam|lol|quest|beauty|hair|skin|bond|mom|zip|mov)\b/g;
const SHORTENERS = new Set([
  'bit.ly', 'tinyurl.com', 't.co', 'goo.gl', 'is.gd', 'cutt.ly', 'ow.ly', 'buff.ly', 'rebrand.ly', 'rb.gy', 'shorturl.at', 't.ly', 'tiny.cc', 'bl.ink',
  'short.io', 'v.gd', 's.id', 'shorte.st', 'adf.ly', 'linktr.ee', 'bitly.com', 'tr.im', 'lnkd.in', 'qr.ae', 'cli.re', 'urlz.fr', 'clck.ru', 'u.to', 'x.gd',
  'shrtco.de', 'gg.gg', 'rotf.lol', 'grabify.link', 'iplogger.org', 'iplogger.com', '2no.co', 'yip.su',
]);
const SUSPICIOUS_TLDS = new Set(['xyz', 'top', 'click', 'gift', 'gifts', 'ru', 'tk', 'ml', 'ga', 'cf', 'gq', 'icu', 'buzz', 'online', 'site', 'shop', 'work', 'rest', 'fit', 'loan', 'win', 'bid', 'pw', 'cc', 'su', 'sbs', 'cfd', 'monster', 'cam', 'quest', 'beauty', 'bond', 'zip', 'mov', 'vip', 'best', 'fun', 'store', 'club', 'live', 'link', 'ly']);
const TRUSTED = /(?:^|\.)(?:discord\.com|discordapp\.com|discord\.gg|steampowered\.com|steamcommunity\.com|twitch\.tv|youtube\.com|youtu\.be|github\.com|gitlab\.com|google\.com|wikipedia\.org|reddit\.com|twitter\.com|x\.com|imgur\.com|gyazo\.com|spotify\.com|apple\.com|microsoft\.com|mozilla\.org|stackoverflow\.com|npmjs\.com|nytimes\.com|bbc\.co\.uk|bbc\.com|theguardian\.com|reuters\.com|apnews\.com|tenor\.com|giphy\.com|docs\.google\.com|notion\.so|figma\.com|medium\.com|substack\.com|amazon\.com|ebay\.com|epicgames\.com|minecraft\.net|roblox\.com|xbox\.com|playstation\.com|nintendo\.com|riotgames\.com|blizzard\.com|ea\.com|twitch\.com|instagram\.com|tiktok\.com|facebook\.com|linkedin\.com|zoom\.us|slack\.com)$/;
/** Brand or bait words inside an untrusted domain: discord-gift.xyz, steamcommunlty.ru, free-nitro.click. */
const BAIT_DOMAIN = /(?:disc[o0]rd|d[i1l]sc[o0]rd|dlscord|discorcl|nitro|steam|stearn|gift|airdrop|claim|free|crypto|wallet|metamask|trust-?wallet|verify|verif|login|secure|account|paypa[l1]|bonus|promo|giveaway|reward|robux|vbucks|skins?|csgo|cs2|nft|token|binance|coinbase|bitcoin|btc|eth|usdt|support|recovery|unlock|appeal)/;
/** Cheap check before the URL regex: a dot between letters/digits, or "//". */
const MAYBE_URL = /[a-z0-9]\.[a-z]{2}|\/\//;
const IP_URL = /\b(?:https?:\/\/)?\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\//;

const DEFS: RuleDef[] = [
  { p: 'free (?:\\d+ )?(?:discord )?(?:nitro|robux|vbucks|v bucks|skins?|gift ?cards?|iphone|ipad|ps5|crypto|btc|bitcoin|eth|money|cash|followers|subs|subscribers|likes|views|steam (?:games?|keys?|gift|wallet)|game keys?|giveaway|coins|gems|tokens|nft|nfts|airdrop|stuff|things|items|gifts|loot)', s: 0.6, c: 'spam', notAfter: '(?:is|was|are|were) (?:a )?(?:scam|fake|phishing)', label: 'giveaway bait', need: 'free' },
  { p: '(?:nitro|steam|robux|vbucks|crypto|nft|btc|eth|usdt|airdrop|skin|csgo|cs2|elon|musk|tesla|binance|vitalik|mrbeast) (?:giveaway|drop|airdrop|gift|generator|gen|promo|bonus|claim|event)|(?:giveaway|airdrop|drop) (?:is )?(?:live|now live|ending soon|ends soon|starting)|(?:nitro|robux|vbucks) (?:for free|generator|gen)', s: 0.6, c: 'spam', label: 'giveaway bait', need: 'nitro steam robux vbucks crypto nft btc eth usdt airdrop skin csgo cs2 elon musk tesla binance vitalik mrbeast giveaway drop' },
  { p: '(?:claim|redeem|collect|grab|get|receive) (?:your|ur|a|the|my|this|it|them)? ?(?:free )?(?:prize|reward|gift|nitro|bonus|airdrop|tokens|giveaway|winnings|payout|money|cash|spot|skins?|code|voucher|coupon)(?: now| here| today| below| fast| before|\\b)|(?:click|tap) (?:here|the link|this link|below|link) to (?:claim|get|receive|redeem|verify|collect|win|unlock|activate)|to claim (?:it|yours|your|now)', s: 0.66, c: 'spam', label: 'claim bait', need: 'claim redeem collect grab get receive' },
  { p: '(?:click|tap|press|visit|go to|check|open|use) (?:here|the link|this link|link below|the link below|link in (?:my )?bio|my bio|my profile|on the link|below|link)(?: to| and| for| now)?|link in (?:my )?bio', s: 0.45, c: 'spam', notBefore: '(?:dont|do not|never|not|didnt|wouldnt|shouldnt|careful|before you)', label: 'click bait', need: 'here link bio profile below' },
  { p: '(?:double|triple|10x|5x|2x|100x|multiply|grow) (?:your|ur|my) (?:btc|bitcoin|eth|ethereum|crypto|money|investment|coins|usdt|funds|income|portfolio|cash)|(?:bitcoin|btc|crypto|eth) doubler', s: 0.88, c: 'spam', label: 'crypto doubling scam', need: 'double triple 10x 5x 2x 100x multiply grow doubler' },
  { p: '(?:send|deposit|transfer|invest) (?:me |us )?(?:\\d+(?: \\d+)?|some|any|a little|0 \\d+|just)? ?(?:btc|bitcoin|eth|ethereum|usdt|sol|crypto|dollars|usd|bucks|\\$)?(?: \\w+){0,4}(?: and| to| n)(?: i| we| you)?(?:ll| will)? (?:get|receive|send back|return|double|get back)', s: 0.82, c: 'spam', label: 'crypto doubling scam', need: 'send deposit transfer invest' },
  { p: '(?:get|receive|send|sent|paid)(?: it| you| u)? (?:double|twice|2x|3x|10x) (?:back|the amount|your money|in return)|(?:get|receive) (?:double|twice) back', s: 0.82, c: 'spam', label: 'crypto doubling scam', need: 'double twice 2x 3x 10x' },
  { p: 'guaranteed (?:profit|profits|returns|income|payout|earnings|roi|win|winnings|money)|(?:risk free|no risk|zero risk) (?:investment|profit|returns|trading|income)|(?:\\d+|huge|massive|insane) ?(?:x|%|percent) (?:returns|profit|roi|gains|daily|weekly|a day|a week|per day|per week)|(?:\\d+|huge) ?(?:%|percent)? (?:weekly|daily|monthly) (?:returns|profit|gains|roi)', s: 0.82, c: 'spam', label: 'investment scam', need: 'guaranteed risk free zero x percent returns profit roi gains daily weekly monthly' },
  { p: '(?:dm|message|inbox|pm|text|contact|hmu|hit me up|write|reach out to|whatsapp|telegram) (?:me|us|my manager|our team|admin)(?: now| today| asap| privately)? (?:for|to|about|on how to|if you want to|and|with) (?:\\w+ ){0,3}(?:invest|investment|investing|earn|earning|profit|profits|returns|details|more info|signals|trading|forex|crypto|mining|income|opportunit|make money|making money|financial freedom|the link|the method|the plug|account recovery|recovery|support|free)', s: 0.8, c: 'spam', label: 'investment scam', need: 'dm message inbox pm text contact hmu hit write reach whatsapp telegram' },
  { p: '(?:i|we) (?:made|make|earned|earn|pulled|cleared) (?:\\$ ?)?\\d[\\d ,k]*(?: dollars| usd| bucks| k)?(?: \\w+){0,3} (?:trading|with crypto|from crypto|in crypto|from home|forex|investing|with this|using this|with my|from my|on crypto|on forex)', s: 0.62, c: 'spam', label: 'money-making pitch', need: 'made make earned earn pulled cleared' },
  { p: '(?:dm|message|pm|text|inbox|hmu|contact) (?:me|us) (?:and|n) (?:ill|i will|i ll|we ll|well|we will|i can|i ll) (?:teach|show|help|explain|tell|guide|get) (?:you|u|ya)', s: 0.72, c: 'spam', label: 'investment scam', need: 'dm message pm text inbox hmu contact' },
  { p: '(?:profit|profits|returns|income|roi|payout|earnings) (?:is |are )?guaranteed|(?:i am|im|i m) (?:an? )?(?:investment|account|crypto|forex|trading|portfolio) (?:manager|expert|advisor|adviser|broker)|hello (?:sir|dear|madam)', s: 0.66, c: 'spam', label: 'investment scam', need: 'guaranteed investment account crypto forex trading portfolio hello' },
  { p: '(?:youre|you are|ur|u r) (?:our|the) (?:\\d[\\d ,]*(?:th|st|nd|rd)?|lucky|\\w+th) (?:visitor|winner|customer|user|member|player)', s: 0.75, c: 'spam', label: 'prize scam', need: 'visitor winner customer user member player' },
  { p: '(?:hurry|act now|limited time|expires|ends soon|last chance|only today|today only)(?: \\w+){0,6} (?:click|tap|claim|visit|go to|link|sign up)', s: 0.65, c: 'spam', label: 'urgency', need: 'hurry act limited expires ends last only today' },
  { p: '(?:check (?:this|it) out|is (?:this|that) (?:you|u)|look at this|omg look|lol look|you need to see this|have you seen this)(?: \\w+){0,3} link|link(?: \\w+){0,2} (?:is (?:this|that) (?:you|u)|check (?:this|it) out)', s: 0.38, c: 'spam', label: 'link lure', need: 'link' },
  { p: '(?:serious (?:inquiries|enquiries|buyers)|interested (?:people|persons)) (?:only )?(?:dm|message|pm|inbox|contact)', s: 0.55, c: 'spam', label: 'investment scam', need: 'serious interested' },
  {
    p: '(?:investment|trading|forex|crypto|bitcoin|binary options?|mining) (?:opportunity|opportunities|platform|plan|plans|signals|expert|mentor|manager|account manager|returns|program|bot|group)|passive income|financial freedom|(?:earn|make|made|making|earning) (?:\\$ ?)?\\d[\\d,k]* ?(?:\\$|dollars|usd|bucks|k)? (?:a|per|every|each|in a|in one|within) (?:day|week|hour|month|days|weeks)|work from home (?:and|opportunity|job)|be your own boss|(?:i|we) (?:made|make) \\d+k?(?: dollars)? (?:from|with|using|in)|(?:this|one) (?:simple |weird |little )?trick',
    s: 0.62,
    c: 'spam',
    label: 'money-making pitch',
    need: 'investment trading forex crypto bitcoin binary mining passive financial earn make made making earning work boss trick',
  },
  { p: '(?:verify|confirm|validate|update|reactivate|secure|unlock|restore|authenticate|re ?verify) (?:your|ur) (?:account|identity|wallet|payment|details|information|info|login|credentials|email|phone|steam account|discord account|billing|address)', s: 0.68, c: 'spam', label: 'phishing', need: 'verify confirm validate update reactivate secure unlock restore authenticate reverify re' },
  { p: '(?:unless|if) (?:you|u) (?:verify|confirm|update|log ?in|login|sign in)|(?:verify|confirm|update|log ?in|login)(?: \\w+){0,3} (?:or|otherwise) (?:it|your account|ur account|you|u|we)(?: will|ll| gets?| get)', s: 0.5, c: 'spam', label: 'phishing', need: 'unless verify confirm update log login sign' },
  { p: '(?:your|ur|the) (?:account|acc|wallet|profile|steam account|discord account|nitro|subscription|card|paypal|package|parcel)(?: \\w+)? (?:will be|has been|is being|is going to be|was|is|may be|might be|gets|will get|got|will|could not be)(?: permanently| temporarily| soon)? (?:suspended|banned|locked|disabled|terminated|deleted|compromised|flagged|closed|limited|restricted|deactivated|removed|hacked|on hold|delivered)|(?:or|otherwise) (?:it|your account|ur account|you|u)(?: will|ll| gets?| will get| get)(?: be)? (?:suspended|banned|locked|deleted|terminated|disabled|deactivated)|(?:suspicious activity|unusual activity) (?:detected|on your account)', s: 0.74, c: 'spam', label: 'phishing', need: 'suspended banned locked disabled terminated deleted compromised flagged closed limited restricted deactivated removed hacked hold delivered suspicious unusual' },
  { p: '(?:within|in|next|under) (?:24|48|12|72|\\d) ?(?:hours|hrs|h|minutes|mins)|(?:act|reply|respond|verify|claim|hurry|order|buy) (?:now|fast|quickly|immediately|asap|today)|limited (?:time|spots|offer|supply|slots)|only \\d+ (?:spots|slots|left|remaining|codes|people)|(?:offer|giveaway|deal) (?:ends|expires) (?:soon|today|tonight|in)|first \\d+ (?:people|users|members) (?:get|to|claim)|(?:before|or) (?:it s|its|it is|they re) (?:gone|too late)|dont miss (?:out|this)|hurry|limited spots', s: 0.4, c: 'spam', label: 'urgency', need: 'within in next under act reply respond verify claim hurry order buy limited only offer giveaway deal first before or miss' },
  { p: '(?:enter|provide|confirm|send|give|type|share|tell) (?:me |us )?(?:your|ur) (?:password|pass|login|seed phrase|recovery phrase|secret phrase|private key|12 words|24 words|2fa|2fa code|auth code|verification code|otp|security code|credit card|card number|card details|cvv|pin|ssn|social security|bank details|token|discord token)|(?:seed|recovery|secret) phrase', s: 0.82, c: 'spam', label: 'credential phishing', need: 'password pass login seed recovery secret private 12 24 2fa auth verification otp security credit card cvv pin ssn social bank token' },
  { p: '(?:just |simply )?(?:enter|fill in|provide|submit|type in) (?:your|ur) (?:details|info|information|personal (?:info|details|information)|address|email|name and address|phone number|card)(?: here| below| on the site| at| to claim| to get)?', s: 0.6, c: 'spam', label: 'credential phishing', need: 'enter fill provide submit type' },
  { p: '(?:you (?:have|ve|just)|u (?:have|ve|just)|youve|uve) (?:been )?(?:won|selected|chosen|picked)|congrat(?:ulation)?s?(?: \\w+){0,3} (?:you|u|youve|uve) (?:have )?(?:won|been selected|been chosen|qualify|are (?:the|our) winner)|(?:you|u) are (?:the|our) (?:lucky )?winner|(?:youre|you are|u r|ur) (?:eligible|qualified) for|(?:our|the) lucky winner', s: 0.72, c: 'spam', label: 'prize scam', need: 'won selected chosen picked qualify winner eligible qualified' },
  { p: 'i (?:accidentally|mistakenly|accidently) (?:reported|report|banned|flagged) (?:you|u|your account|ur account)|(?:my|this) (?:friend|brother|cousin) (?:accidentally|mistakenly) (?:reported|banned)|(?:contact|message|dm|talk to) (?:this|the|a) (?:discord|steam|staff|admin|support|moderator)? ?(?:staff|admin|mod|support|team member|moderator)(?: \\w+)? (?:to|and|who can) (?:fix|unban|resolve|appeal|sort)|(?:discord|steam) (?:staff|support|trust|security) here', s: 0.82, c: 'spam', label: 'account-report scam', need: 'accidentally mistakenly accidently contact message dm talk discord steam' },
  { p: '(?:is (?:this|that) (?:you|u)|(?:you|u) (?:are|r) (?:in|on)) (?:in |on )?(?:the |this |that )?(?:pic|photo|video|vid|picture|clip)|(?:look|lol|omg) (?:at )?(?:this|what) (?:i found|they posted)(?: about (?:you|u))?', s: 0.55, c: 'spam', label: 'phishing lure', need: 'pic photo video vid picture clip found posted' },
  { p: '(?:sub ?4 ?sub|sub for sub|follow ?4 ?follow|follow for follow|f4f|l4l|like ?4 ?like|like for like|s4s|follow back)|(?:buy|cheap|get|purchase) (?:\\d+k? |a thousand |thousands of )?(?:cheap |real |instant |active )?(?:followers|viewers|likes|subscribers|subs|views|upvotes|accounts|robux|vbucks|gold|coins|reviews)(?: now| here| cheap| fast| at| from)?', s: 0.72, c: 'spam', notBefore: '(?:dont|do not|never|not|didnt|stop)', label: 'promotion', need: 'sub4sub sub follow follow4follow f4f l4l like like4like s4s buy cheap get purchase' },
  { p: '(?:\\d+k?|a thousand|1k|10k) (?:followers|viewers|likes|subscribers|subs|views|robux|vbucks) (?:for|at|only|for only|at only) (?:\\$ ?)?\\d+|(?:followers|viewers|likes|subscribers|subs|views|robux|vbucks) (?:\\d+k?|a thousand) (?:for|at) (?:only )?\\d+', s: 0.62, c: 'spam', label: 'promotion', need: 'followers viewers likes subscribers subs views robux vbucks' },
  { p: '(?:check out|come check out|go check out|visit|join|subscribe to|follow|sub to|watch) (?:my|our) (?:new )?(?:channel|stream|twitch|youtube|yt|onlyfans|store|shop|server|page|profile|website|site|tiktok|insta|instagram|telegram|group|discord)', s: 0.35, c: 'spam', label: 'self-promotion', need: 'check visit join subscribe follow sub watch' },
  { p: '(?:best|cheapest|lowest) (?:prices?|deals?|rates?)|(?:\\d+|huge|massive) ?% (?:off|discount)|(?:use|with) (?:my |promo |discount )?code \\w+|promo code|discount code|coupon code|(?:buy|order|shop) now', s: 0.4, c: 'spam', label: 'promotion', need: 'best cheapest lowest off discount code promo coupon buy order shop' },
  { p: '(?:hiring|recruiting|looking for) (?:people|workers|staff|agents|promoters|partners)(?: \\w+){0,3} (?:from home|online|remotely|daily pay|weekly pay|no experience)|no experience (?:needed|required)|(?:earn|make) (?:money|cash|\\$) (?:from home|online|fast|easy|quick)|(?:earn|make) money from home|easy money|quick cash|get rich (?:quick|fast)|cash app flip|money flip|flip your (?:money|cash)|daily payouts?', s: 0.66, c: 'spam', label: 'money-making pitch', need: 'hiring recruiting looking experience earn make easy quick rich flip daily' },
  { p: '(?:join|check) (?:my|our|this) (?:telegram|whatsapp|signal|discord|vip) (?:group|channel|server)? ?(?:for|to get) (?:signals|pumps|profits|calls|gains|free)|pump and dump|(?:next|upcoming) (?:100x|1000x|moon ?shot|gem)|to the moon|(?:100x|1000x|10x) (?:coin|token|gem|crypto|potential)|buy (?:before|now before) (?:it|they) (?:moons|pumps|explodes|goes up)|(?:crypto|trading) signals|vip (?:investing|trading|signals) group', s: 0.66, c: 'spam', label: 'investment scam', need: 'join check pump next upcoming moon 100x 1000x 10x buy signals vip' },
  { p: '(?:recover|unlock|restore|unban|get back|retrieve|fix) (?:your|ur) (?:hacked |stolen |banned |locked |lost |disabled )?(?:account|acc|wallet|funds|crypto|coins|nft|discord|instagram|facebook|steam)', s: 0.58, c: 'spam', label: 'recovery scam', need: 'recover unlock restore unban get retrieve fix' },
  { p: '(?:message|dm|contact|text|add|reach|hit up) (?:me|us|him|our (?:team|agent|support)) (?:on|via|at) (?:telegram|whatsapp|signal|wickr|kik)', s: 0.45, c: 'spam', label: 'off-platform contact', need: 'message dm contact text add reach hit' },
  { p: '(?:dm|pm|message|inbox|hmu) (?:me|us)(?: now| asap| today| for (?:more|details|info|price|prices))?$', s: 0.2, c: 'spam', label: 'dm request', need: 'dm pm message inbox hmu' },
  { p: '(?:selling|sell|buying) (?:discord )?(?:nitro|accounts|robux|vbucks|followers|likes|views|subs|aged accounts|steam keys|game keys)(?: for (?:\\$ ?)?\\d+| cheap)?', s: 0.66, c: 'spam', label: 'promotion', need: 'selling sell buying' },
  { p: '\\d+ ?(?:\\$|dollars|usd|bucks)? (?:daily|a day|per day|weekly|a week|per week|an hour|per hour)|(?:daily|weekly) (?:profit|profits|returns|income|payouts?)', s: 0.5, c: 'spam', label: 'money-making pitch', need: 'daily day weekly week hour' },
  { p: '(?:gonna|going to|will|about to|could|can) (?:100x|1000x|10x|50x|moon|pump|explode)|(?:invest|put) (?:\\$ ?)?\\d+ (?:and|to) (?:get|make|earn|receive) (?:\\$ ?)?\\d+', s: 0.72, c: 'spam', label: 'investment scam', need: 'gonna going will about could can invest put' },
  { p: '(?:click|tap|go) (?:here|the link|below|this link) to (?:appeal|restore|recover|unlock|verify|confirm|reactivate|keep)', s: 0.74, c: 'spam', label: 'phishing', need: 'click tap go' },
];

export const SPAM_RULES = compileRules('spam pattern', DEFS);

function domainOf(url: string): string {
  const m = /^(?:https?:\/\/)?(?:www\.)?([^/?#:\s]+)/.exec(url);
  return (m?.[1] ?? url).replace(/[.,!?)]+$/, '');
}

/** Repeated promotional text: the same line or a run of words said three times or more. */
function repeatedText(norm: string, tokens: readonly string[]): string | undefined {
  if (tokens.length < 12) return undefined;
  const counts = new Map<string, number>();
  for (let i = 0; i + 4 <= tokens.length; i++) {
    const g = `${tokens[i]} ${tokens[i + 1]} ${tokens[i + 2]} ${tokens[i + 3]}`;
    const c = (counts.get(g) ?? 0) + 1;
    counts.set(g, c);
    if (c >= 3) return g;
  }
  void norm;
  return undefined;
}

export function spamSignal(t: NormalizedText, ctx: ContextMarkers, damp: Dampening, ungated = false): SignalResult {
  const flags = new Set<RiskFlag>();
  const hits: RuleHit[] = matchRules(t, SPAM_RULES, ctx, damp, ungated);
  let cf: ReturnType<typeof contextFactor> | undefined;
  const extra = (label: string, text: string, s: number) => {
    cf ??= contextFactor('spam', ctx, damp);
    hits.push({ label, text, strength: s * cf.factor, raw: s, damped: cf.damped });
  };

  let links = 0;
  if (MAYBE_URL.test(t.lower)) {
    const urls = t.lower.match(URL_IN_LOWER) ?? [];
    for (const url of urls.slice(0, 10)) {
      const d = domainOf(url);
      if (!d.includes('.')) continue;
      links++;
      const tld = d.slice(d.lastIndexOf('.') + 1);
      if (SHORTENERS.has(d)) {
        extra('url shortener', d, 0.42);
        flags.add('url_shortener');
      } else if (TRUSTED.test(d)) {
        // A link to a well-known site is not evidence of anything.
      } else if (BAIT_DOMAIN.test(d)) {
        extra('look-alike or bait domain', d, SUSPICIOUS_TLDS.has(tld) || /[0-9]|-/.test(d) ? 0.72 : 0.5);
      } else if (d.startsWith('xn--') || d.includes('.xn--') || IP_URL.test(url)) {
        extra('disguised link', d, 0.5);
      } else if (SUSPICIOUS_TLDS.has(tld)) {
        extra('suspicious domain', d, 0.35);
      } else {
        extra('link', d, 0.12);
      }
    }
  }
  if (links > 0) flags.add('spam_links');
  if (links >= 3) extra('many links', `${links} links`, 0.3);

  // Money and hype typography common in promo spam: "$$$", "💰🚀", "100% FREE".
  const money = (t.original.match(/[💰💸🤑🚀💎🎁🔥]/gu) ?? []).length;
  if (money >= 3) extra('promo emoji', `${money} promo emoji`, 0.25);
  if (/\$\$+|100 ?% (?:free|legit|real|guaranteed|safe|working)/i.test(t.lower)) extra('hype wording', clip(/\$\$+|100 ?% \w+/i.exec(t.lower)![0]), 0.35);

  const rep = repeatedText(t.norm, t.tokens);
  if (rep) {
    extra('repeated promo text', rep, 0.35);
    flags.add('repeated_content');
  }

  if (hits.length === 0) return { value: 0, category: 'spam', flags: [...flags], evidence: [] };
  hits.sort((a, b) => b.strength - a.strength);
  // Spam evidence adds up (a link AND bait AND urgency): full noisy-OR, not the shrinking share.
  const value = combineHits(hits, 'noisy-or');
  if (hits.some((h) => h.label !== 'link' && h.label !== 'url shortener' && h.label !== 'self-promotion') && value >= 0.3) flags.add('promo_pattern');
  return { value, category: 'spam', flags: [...flags], evidence: hitEvidence(hits), raw: combineRaw(hits, 'noisy-or') };
}
