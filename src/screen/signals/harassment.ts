/*
 * Targeted harassment without (necessarily) a swear word: telling someone to kill themselves
 * (kys and its spellings), death wishes, "nobody would miss you", "you're a waste of space",
 * "everyone here hates you", "go back to where you came from", "you should quit the internet",
 * and direct insults aimed at the reader ("you're such an idiot").
 */
import type { NormalizedText } from '../text.js';
import { combineHits, combineRaw, compileRules, hitEvidence, matchRules, phraseHyperbole, type RuleDef } from './patterns.js';
import type { ContextMarkers, Dampening, SignalResult } from './types.js';

const INSULT_STRONG =
  '(?:waste of (?:space|oxygen|air|skin|life|time|a human|a person|sperm|breath|carbon|flesh|bandwidth)|mistake|disgrace|abomination|parasite|subhuman|sub human|lowlife|scum|degenerate|vermin|cancer|plague|leech|burden on (?:everyone|society|this server)|failure as a (?:human|person)|worthless|pathetic|oxygen thief|human garbage|human trash|piece of garbage|piece of trash|piece of work|sorry excuse for a (?:human|person|man|woman)|waste of (?:everyone s|everyones|our|my) (?:time|space)|nobody|nothing|burden to (?:everyone|everybody|all|your family|the team|us|society|everyone around you))';
const INSULT_MILD =
  '(?:idiot|moron|imbecile|dumbass|dipshit|clown|buffoon|cretin|incel|creep|weirdo|psycho|freak|loser|failure|joke|embarrassment|disappointment|reject|pig|cow|whale|rat|snake|worm|virgin|neckbeard|simp|donkey|muppet|bozo|dork|fool|dunce|halfwit|nitwit|numpty|pleb|peasant|crybaby|baby|brat)';
const NOUN_FRAME =
  '(?:(?:youre|you are|you r|u r|u are|ure|ur|your|yer|you|u) (?:a|an|such a|such an|the|one|just a|just an|literally a|literally an|nothing but a|an absolute|a complete|a total|a real|the biggest|a fucking|a pathetic|a worthless|a stupid|a dumb|a fat|a little|an ugly|a sad|a sorry)|(?:youre|you are|you r|u r|u are)(?: just| literally| honestly| truly| nothing but)?|(?:you|u)(?: stupid| dumb| fat| little| ugly| pathetic| worthless| absolute| complete| fucking| useless)*)';
const STRICT_YOURE = '(?:youre|you are|you r|u r|u are|ure|youre just|you are just)(?: (?:genuinely|truly|actually|honestly|literally|seriously|so|such|really|just|completely|totally))*';
const ADJ_STRONG =
  '(?:ugly|fat|disgusting|repulsive|hideous|revolting|obese|unlovable|unlikable|unlikeable|unwanted|worthless|pathetic|braindead|brain dead|retarded|mentally ill|deformed|subhuman|a waste|vile|despicable|hateful|a burden|a parasite|a leech|an attention seeker|a failure at everything)';
const ADJ_MILD = '(?:gross|stupid|dumb|useless|annoying|cringe|irrelevant|delusional|insufferable|unbearable|clueless|trash|garbage|a clown)';

const DEFS: RuleDef[] = [
  // --- telling someone to kill themselves
  {
    p: 'kys|kyss|k y s|kms you|kill ?{YOURSELF}|kill ?(?:yo|ur|your|yo) ?(?:self|selves|slef)|killyourself|killurself|killyoself|kil (?:yourself|urself)|(?:neck|rope|hang|unalive|off|end|delete|shoot|drown|stab) {YOURSELF}|an hero|go hang (?:yourself|urself)|drink (?:some )?(?:bleach|drain cleaner|antifreeze)|(?:go )?play in (?:traffic|the highway)|(?:go )?jump off (?:a|the) (?:bridge|building|cliff|roof)|slit (?:your|ur) wrists',
    s: 0.9,
    c: 'robust',
    notBefore: '(?:you|u|ya|he|she|they|we|i|it|can) (?:can|cant|could|cannot|couldnt|can not|will|might|accidentally|just|keep|kept)|(?:can|cant|how (?:do|to|can|did)|way to|button to|trying to|tried to|dont|do not|made me|make you|not|never)',
    label: 'telling someone to kill themselves',
    need: 'kys kyss k kms kill kil killyourself killurself killyoself neck rope hang unalive off end delete shoot drown stab an drink play jump slit',
  },
  { p: 'go (?:die|drown|rot)(?: in (?:a|the) (?:ditch|hole|river|lake|fire|corner|gutter))?', s: 0.72, c: 'medium', notAfter: '(?:in|on|to) (?:the|this|that|a) (?:game|round|match|level|lava|boss|raid|dungeon|zone|storm|void)|(?:laughing|of laughter)|so (?:you|u) (?:can|respawn)|and respawn', label: 'death wish aimed at the reader', need: 'die drown rot' },
  {
    p: '(?:just|pls|please|plz|literally|why dont (?:you|u)|why not|(?:you|u) should(?: just)?|(?:you|u) need to|(?:you|u) deserve to|(?:i )?hope (?:you|u)|(?:i )?wish (?:you|u) would|do (?:us|everyone|the world) (?:all )?a (?:favou?r|solid) and|(?:you|u) (?:ought|oughta) to|(?:you|u) better) (?:just )?(?:die|drop dead|disappear|stop existing|cease to exist|go away forever|fall off a cliff|get cancer|get aids|starve|choke|burn|rot|leave forever|stop breathing|never wake up|get hit by a (?:car|bus|truck|train)|end it|kill (?:yourself|urself)|off yourself|unalive yourself|disappear forever|jump)',
    s: 0.88,
    c: 'robust',
    notAfter: '(?:in|on) (?:the|this|that|a) (?:game|round|match|level|lava|boss|raid|dungeon|zone|storm)|(?:laughing|of laughter)|so (?:you|u) (?:can|respawn)',
    label: 'death wish aimed at the reader',
    need: 'die dead disappear existing exist forever cliff cancer aids starve choke burn rot breathing wake hit end kill off unalive jump',
  },
  { p: '(?:just |please |pls |plz |go )?stop existing', s: 0.8, c: 'robust', notBefore: '(?:want to|wanna|wish i could|i could|to|i|me|just want to)', label: 'death wish aimed at the reader', need: 'existing' },
  { p: '(?:die|burn|rot|suffer) in (?:a fire|hell|a ditch|pain|agony)|(?:hope|wish) (?:your|ur) (?:family|mom|mother|kids|dog|parents|whole family) (?:dies|die|gets? (?:cancer|hurt|killed|raped))', s: 0.85, c: 'robust', label: 'death wish aimed at the reader', need: 'fire hell ditch pain agony dies die cancer hurt killed raped' },
  { p: '(?:i )?(?:hope|wish|pray) (?:someone|somebody|a (?:car|bus|truck)) (?:kills|shoots|stabs|murders|hurts|rapes|beats|runs over|hits) (?:you|u|ya)', s: 0.88, c: 'robust', label: 'death wish aimed at the reader', need: 'hope wish pray' },
  { p: '(?:you|u|ya) (?:deserve|deserved) (?:to (?:die|suffer|be (?:raped|hurt|killed|beaten|alone|bullied|miserable)|get (?:cancer|hurt|killed|raped|beaten))|cancer|death|a slow death|everything bad|nothing but pain|to rot)', s: 0.85, c: 'robust', label: 'death wish aimed at the reader', need: 'deserve deserved' },
  { p: '(?:you|u|ya) (?:dont|do not|never|dont even) deserve (?:to (?:live|exist|be alive|breathe|be happy|have friends|be loved|be here|walk this earth)|(?:friends|love|happiness|to be happy|anything good|anyone))', s: 0.82, c: 'robust', need: 'deserve' },
  { p: '(?:do|doing) (?:us|everyone|the world|yourself|all of us)(?: all)? a (?:favou?r|solid) and (?:just )?(?:quit|leave|log off|delete|disappear|die|shut up|go away|stop posting|kill yourself|uninstall|stop talking|never come back|get lost|vanish)', s: 0.82, c: 'robust', label: 'telling someone to leave', need: 'favor favour solid' },
  // --- worthlessness, isolation
  { p: '(?:no ?one|nobody|noone|not a single (?:person|soul)|no body)(?: here| in this server| in this chat| on this server| at all| in the world| on earth| in your life)?(?: (?:would|will|is gonna|is going to|would even|will even|would ever|would really|is ever going to|will ever|gonna))? (?:miss|care about|mourn|notice|cry for|cry over|remember|grieve|go to) (?:you|u|ya|your funeral|ur funeral)', s: 0.9, c: 'robust', label: 'isolating harassment', need: 'nobody noone no not' },
  { p: '(?:no ?one|nobody|noone)(?: here| in this server| in this chat| at all)?(?: (?:would|will|even|really|ever|actually|gonna|is gonna))* (?:care|cares|notice|give a (?:shit|fuck|damn)|gives a (?:shit|fuck|damn)) (?:if|when|that) (?:you|u|ya) (?:died|disappeared|left|killed yourself|were gone|was gone|vanished|stopped|quit|die|disappear|leave|kill yourself|are gone|re gone|dropped dead|never came back)', s: 0.9, c: 'robust', label: 'isolating harassment', need: 'nobody noone no' },
  { p: '(?:if|when) (?:you|u|ya) (?:died|disappeared|vanished|left|were gone|killed yourself|dropped dead|stopped existing)(?: \\w+){0,3} (?:no ?one|nobody|noone) (?:would|will|is gonna)(?: even| ever| really)? (?:notice|care|miss (?:you|u)|cry|mourn)', s: 0.9, c: 'robust', label: 'isolating harassment', need: 'nobody noone no' },
  { p: '(?:no ?one|nobody|noone|not one person|not a single person)(?: here| irl| in real life| at all| (?:in|on|at|from) (?:this|the|our|your|ur) \\w+)? (?:likes|loves|wants|needs|respects|cares about|tolerates|can stand|can tolerate|can bear|asked for|invited|will ever love|will ever like|would ever love|could ever love|would ever date|will ever date|wants to be friends with|will ever want|actually likes|even likes|wants to talk to|wants to play with) (?:you|u|ya)(?: here| around)?', s: 0.8, c: 'robust', label: 'isolating harassment', need: 'nobody noone no not' },
  { p: '(?:no ?one|nobody|noone|not (?:one|a single) person)(?: \\w+){0,2} (?:would|will|is gonna|is going to) (?:even )?(?:come to|show up to|go to|attend|cry at|bother with) (?:your|ur) (?:funeral|wedding|party|birthday|grave)', s: 0.88, c: 'robust', label: 'isolating harassment', need: 'nobody noone no not' },
  { p: '(?:why|how) (?:are|r|is|re) (?:you|u|ya) still (?:alive|breathing|here|around|existing|allowed to live|on this earth|living)', s: 0.85, c: 'robust', label: 'death wish aimed at the reader', need: 'alive breathing here around existing allowed earth living' },
  { p: '(?:the )?(?:rope|noose|bridge|bleach|pills) (?:is|are)? ?calling (?:you|u|ur name|your name)|(?:go )?(?:buy|get|find) (?:a|some|urself a|yourself a) (?:rope|noose)', s: 0.85, c: 'robust', label: 'telling someone to kill themselves', need: 'calling rope noose' },
  { p: '(?:just |go |pls |please |plz )?end it (?:already|now|pls|please|asap|today)(?: \\w+){0,2}', s: 0.72, c: 'medium', notBefore: '(?:i|im|i want to|i wanna|i need to|to|gonna|going to|want to|wanna|should i|i should|i might|i will|ill|me|i just)', label: 'telling someone to kill themselves', need: 'end' },
  {
    p: '(?:everyone|everybody|every one|all of us|we all|the whole (?:server|chat|class|school|team|group|discord|internet))(?: here| in this server| in this chat| on this server| in this discord| literally| secretly| actually| already| in class)? (?:(?:hates|hate|despises|despise|laughs at|laugh at|is laughing at|are laughing at|makes fun of|make fun of|talks shit about|talk shit about|is sick of|are sick of|is tired of|are tired of|can t stand|cant stand) (?:you|u|ya)|(?:wishes|wish) (?:you|u) (?:would die|were dead|were gone|would leave)|(?:wants|want) (?:you|u) gone|thinks youre (?:a )?(?:joke|loser|freak|weird|pathetic|annoying|creepy|ugly|disgusting))',
    s: 0.82,
    c: 'robust',
    label: 'isolating harassment',
    need: 'everyone everybody every all we whole',
  },
  {
    p: '(?:the world|everyone|everybody|this server|this chat|this planet|earth|we|your family|ur family|your parents|ur parents|the gene pool|society|humanity|the planet)(?: \\w+){0,2} (?:would be|is|are|will be|d be|be) (?:a )?(?:so much |much |way |a lot |honestly |so )?(?:better|happier|nicer|cleaner|safer|relieved|glad|thrilled|happy|fine)(?: place)?(?: off)? (?:without (?:you|u|ya)|if (?:you|u|ya) (?:just )?(?:died|were dead|were gone|was gone|left|disappeared|killed yourself|didnt exist|never existed|never came back|were never born|moved out forever|left forever|moved away forever|stopped existing|vanished))',
    s: 0.9,
    c: 'robust',
    label: 'isolating harassment',
    need: 'better happier nicer cleaner safer relieved glad thrilled happy fine',
  },
  {
    p: '(?:your|ur) (?:parents|mom|mother|dad|father|family|mum)(?: \\w+)? (?:should have|shouldve|should of|must have|musta) (?:aborted|swallowed|drowned|abandoned|disowned|pulled out)|(?:you|u) (?:should have|shouldve|should of) been (?:aborted|swallowed|drowned)|(?:you|u) (?:should|shouldve|should have) never (?:have )?been born|(?:shame|pity|mistake) (?:that )?(?:you|u) (?:were|was) (?:ever )?born|(?:you|u) (?:shouldnt|should not) (?:exist|be alive|be allowed to live)|(?:your|ur) existence is (?:a mistake|pointless|a joke|an insult|a waste)',
    s: 0.88,
    c: 'robust',
    need: 'aborted swallowed drowned abandoned disowned pulled born exist alive live existence',
  },
  { p: '(?:your|ur|even your|even ur) (?:parents|mom|mother|dad|father|family|mum|own mother|own family|dog|friends)(?: \\w+)? (?:hates|hate|dont love|doesnt love|cant stand|are ashamed of|is ashamed of|must be ashamed of|must hate|regret having|regrets having|probably regret having|wish they never had|left because of|doesnt want|dont want) ?(?:you|u|ya)?', s: 0.8, c: 'robust', need: 'hates hate love stand ashamed regret regrets wish left want' },
  { p: '(?:youre|you are|ur|u r) the reason (?:your|ur) (?:dad|father|mom|mother|parents|family|friends|girlfriend|boyfriend|wife|husband) (?:left|hates|hate|divorced|gave up)', s: 0.82, c: 'robust', label: 'degrading insult', need: 'reason' },
  { p: '{NOUN_FRAME}(?: [a-z]+)? {INSULT_STRONG}', s: 0.82, c: 'robust', notAfter: '(?:like|but|without|compared|to (?:me|worry|us)|wrong|special)', label: 'degrading insult', need: '{INSULT_STRONG_NEED}' },
  { p: '(?:youre|you are|u r|you r|ure)(?: just| literally| honestly| truly)? (?:nothing|nobody|a nobody)|(?:ur|your) (?:nothing|nobody)(?: literally| at all| to (?:anyone|me|us|anybody))?(?: nothing)?$', s: 0.78, c: 'robust', notAfter: '(?:like|but|without|compared|special|to worry)', label: 'degrading insult', need: 'nothing nobody' },
  { p: '(?:genuinely |literally |honestly )?(?:the|such a|what a) (?:biggest |absolute |complete |total )?(?:waste of (?:space|oxygen|air|skin|life|a human|sperm|flesh)|oxygen thief|sorry excuse for a (?:human|person))', s: 0.72, c: 'medium', label: 'degrading insult', need: 'waste oxygen excuse' },
  { p: '{NOUN_FRAME}(?: [a-z]+)? {INSULT_MILD}s?', s: 0.6, c: 'ambiguous', notAfter: '(?:at|in) (?:this|the|that) (?:game|round|match)|player|lol', label: 'insult aimed at the reader', need: '{INSULT_MILD_NEED}' },
  { p: '{INSULT_ANY} and (?:a |an |such a |so )?(?:[a-z]+ )?{INSULT_ANY}', s: 0.72, c: 'medium', label: 'degrading insult', need: '{INSULT_ANY_NEED}' },
  { p: '(?:youre|you are|ur|u r) (?:the|such a) (?:dumbest|stupidest|ugliest|most pathetic|most annoying|most useless|fattest|biggest loser|most worthless|most disgusting|lamest|saddest|weirdest|creepiest)(?: \\w+){0,2} (?:person|human|thing|idiot|excuse|loser|man|woman|girl|guy|kid|creature|people)(?: (?:ive|i have|i ve) ever| alive| on earth| in the world| here)?', s: 0.72, c: 'medium', label: 'degrading insult', need: 'dumbest stupidest ugliest most fattest biggest lamest saddest weirdest creepiest' },
  { p: '(?:youre|you are|ur|u r|u are) (?:a|an|such a|such an|just a|the) (?:\\w+ ){0,2}(?:sad|lonely|pathetic|miserable|pitiful|worthless|disgusting|ugly|fat|stupid|dumb|creepy|weird|gross) (?:little |old |lonely |sad |fat |ugly )*(?:man|woman|boy|girl|kid|person|human|creature|thing|individual|excuse|loser|baby|child)', s: 0.72, c: 'medium', label: 'degrading insult', need: 'sad lonely pathetic miserable pitiful worthless disgusting ugly fat stupid dumb creepy weird gross' },
  { p: '{STRICT_YOURE}(?: so| such| really| literally| truly| fucking| honestly| just)* {ADJ_STRONG}', s: 0.75, c: 'robust', label: 'degrading insult', need: '{ADJ_STRONG_NEED}' },
  { p: '(?:ur|your|you|u)(?: so| such| really| literally| fucking| truly)+ {ADJ_STRONG}|(?:ur|your|you|u) {ADJ_STRONG}(?: af| as hell| lol| lmao)?$', s: 0.7, c: 'medium', label: 'degrading insult', need: '{ADJ_STRONG_NEED}' },
  { p: '{STRICT_YOURE}(?: so| such| really| literally| fucking)* {ADJ_MILD}(?: af| as hell)?|(?:ur|your|you|u)(?: so| such| really| literally| fucking)+ {ADJ_MILD}', s: 0.45, c: 'ambiguous', label: 'insult aimed at the reader', need: '{ADJ_MILD_NEED}' },
  { p: '(?:thats|that s|that is) all (?:you ll|youll|you will|u will|ull|you re|youre|you are|ur|u r) (?:ever )?(?:be|been|amount to|worth)', s: 0.8, c: 'robust', label: 'degrading insult', need: 'all' },
  { p: '(?:ugly|fat|worthless|pathetic|stupid|dumb|disgusting|useless|lazy|smelly|brainless|sad) (?:ugly |fat |worthless |pathetic |stupid |dumb |disgusting |little |useless |lazy |smelly |sad |lonely )+(?:loser|pig|cow|freak|bitch|idiot|moron|whale|slob|virgin|failure|nobody|creep|clown)s?', s: 0.74, c: 'medium', label: 'degrading insult', need: 'loser pig cow freak bitch idiot moron whale slob virgin failure nobody creep clown losers pigs cows freaks bitches idiots morons whales slobs virgins failures creeps clowns' },
  { p: '(?:you|u|ya) (?:smell|look|sound|stink|smells|looks)(?: \\w+)? like (?:garbage|trash|shit|crap|a dumpster|a sewer|death|rotten \\w+|a pig|a corpse|roadkill|a rat|a goblin|a troll|vomit|puke)', s: 0.7, c: 'medium', label: 'degrading insult', need: 'smell look sound stink smells looks' },
  { p: '(?:dumb|stupid|ugly|useless|thick|dense) as (?:a rock|rocks|a brick|bricks|a doorknob|a sack of \\w+|a box of rocks|a bag of \\w+|a post|hell|fuck|shit)|twice as (?:useless|dumb|stupid|ugly)', s: 0.7, c: 'medium', label: 'degrading insult', need: 'as' },
  { p: '(?:what a|such a|you|u|ur a|youre a|you are a) (?:\\w+ )?(?:worthless|pathetic|sorry|poor|sad|useless|miserable|pitiful) excuse (?:for|of) (?:a |an )?\\w+', s: 0.78, c: 'robust', label: 'degrading insult', need: 'excuse' },
  { p: '(?:you|u|ya) (?:dumb|stupid|fat|ugly|little|worthless|useless|pathetic|sorry|lazy) (?:fuck|fucks|fucker|fuckwit|fucktard|shit|shithead|fuckface)', s: 0.78, c: 'medium', label: 'degrading insult', need: 'fuck fucks fucker fuckwit fucktard shit shithead fuckface' },
  { p: '(?:get out|leave|go away|get lost|fuck off) and (?:stay (?:away|out|gone)|dont come back|never come back|do not come back|stay out)', s: 0.72, c: 'medium', label: 'telling someone to leave', need: 'stay come' },
  { p: '(?:imagine|picture) being (?:as |this |that |so )?(?:ugly|fat|stupid|dumb|pathetic|worthless|lonely|unlovable|disgusting|cringe) as (?:you|u)', s: 0.72, c: 'medium', label: 'degrading insult', need: 'imagine picture' },
  { p: '(?:you|u|ya)(?:ll| will|re gonna| are gonna| are going to|re going to)? (?:never|always) (?:be|amount to|have|find|get) (?:anything|anyone|nothing|alone|unloved|friends|a friend|love|a (?:loser|failure|nobody|virgin|joke)|lonely)|(?:you|u)(?:ll| will) die alone', s: 0.72, c: 'medium', label: 'degrading insult', need: 'never always alone' },
  { p: '(?:no ?one|nobody|noone) (?:will|would|could|is gonna) ever (?:love|like|date|marry|want|hire) (?:you|u|ya)|(?:you|u) (?:have|got|ve got|ve) (?:no|zero|0) (?:friends|life|one|future|purpose|value|worth)|no wonder (?:you|u)(?:re| are| r)? (?:alone|single|lonely|unloved|friendless|a virgin|fat|bullied)|no wonder (?:nobody|no one|noone) (?:likes|loves|wants) (?:you|u)', s: 0.78, c: 'medium', label: 'isolating harassment', need: 'ever no zero 0 wonder' },
  // --- "leave": exclusion, quitting the internet, xenophobic "go back"
  { p: '(?:you|u|ya)(?: should| need to| ought to| better| have to| must| gotta)?(?: just| really| honestly| seriously| please)* (?:quit|leave|get off|delete|log off|uninstall|stay off|get banned from) (?:the internet|internet|life|your life|ur life|this server|the server|this platform|twitter|discord|reddit|everything|social media|existence|this planet|earth)', s: 0.78, c: 'medium', notBefore: '(?:can|could|how (?:do|to|can)|if)', label: 'telling someone to leave', need: 'quit leave get delete log uninstall stay banned' },
  { p: '(?:^|just |go |pls |please |plz |maybe |kindly )(?:quit|leave|delete|uninstall|log off|get off) (?:the internet|internet|life|your life|ur life|existence|this planet|earth|your account|ur account)(?: (?:permanently|forever|for good|already))?|uninstall (?:life|your life|ur life|yourself|urself)|log off (?:the internet|life|forever|permanently)(?: permanently| forever)?', s: 0.78, c: 'robust', label: 'telling someone to leave', need: 'quit leave delete uninstall log get' },
  { p: 'go back (?:to )?(?:where|wherever) (?:you|u|ya|they|you people|u people) (?:came|come|crawled|belong)(?: from)?|go back (?:home|to (?:your|ur) (?:own )?(?:country|homeland|village|jungle|cave|desert|tribe|hut|hole|shithole|side of the world))|(?:go )?crawl back (?:into|to|under|in|inside) (?:whatever|the|your|ur|that) (?:hole|rock|cave|sewer|gutter|swamp|basement)', s: 0.88, c: 'robust', label: 'xenophobic harassment', need: 'back' },
  {
    p: '(?:you|u|ya|your kind|ur kind|people like you|people like u)(?: \\w+)? (?:dont|do not|will never|never) belong (?:here|in this (?:server|country|community|school|team|group))|(?:no ?one|nobody|noone) wants (?:you|u|ya|your kind|people like you) (?:here|around)|(?:leave|get out|go away) and (?:never|dont) come back|(?:get|fuck) (?:out|lost|off) (?:of )?(?:this|our|my) (?:server|chat|channel|community|country|school|space|group)|(?:youre|ur|you are|u r|you r) not welcome (?:here|in (?:this|our))|(?:delete|deactivate) (?:your|ur) (?:account|acc|profile)(?: \\w+){0,2} (?:and )?(?:never come back|leave|nobody wants|no one wants|go away|get lost)',
    s: 0.74,
    c: 'medium',
    label: 'telling someone to leave',
    need: 'belong wants back server chat channel community country school space group welcome delete deactivate',
  },
  // --- persistent, coordinated harassment
  { p: '(?:i|we)(?:ll| will| are going to| re going to| re gonna| are gonna|m going to|m gonna| am going to)? (?:keep|never stop|wont stop|will never stop|not gonna stop) (?:making (?:new )?accounts|messaging (?:you|u)|coming back|harassing (?:you|u)|following (?:you|u)|finding (?:you|u))|(?:you|u) (?:cant|cannot|can not) (?:block|escape|hide from|get away from|run from) (?:me|us)', s: 0.78, c: 'robust', label: 'persistent harassment', need: 'keep stop block escape hide get run' },
  { p: '(?:{I_WILL}|lets|let s|we should|everyone) (?:make sure everyone (?:knows|sees)|tell everyone|show everyone|spread|post (?:this|your|ur) (?:everywhere|pics|photos)|ruin (?:your|ur) (?:reputation|life|name)|make (?:you|u) (?:famous|a meme|a laughing stock)|get (?:you|u) (?:banned|fired|expelled|cancelled|canceled|kicked out)|mass report (?:you|u|him|her|them|atmention)|raid (?:your|ur|his|her) (?:stream|server|channel|page))', s: 0.6, c: 'medium', neg: true, label: 'harassment campaign', need: 'everyone spread post ruin famous meme laughing banned fired expelled cancelled canceled kicked mass raid' },
  { p: '(?:everyone|guys|yall|lets all|let s all|we should all|we should) (?:go )?(?:bully|harass|spam|flame|dogpile|roast|mock|raid|report) (?:atmention|him|her|them|this (?:guy|girl|kid|person|loser|freak))', s: 0.65, c: 'medium', label: 'harassment campaign', need: 'bully harass spam flame dogpile roast mock raid report' },
  { p: '(?:you|u) (?:look|looks|sound|sounds) like (?:a |an )?(?:pig|cow|whale|rat|ape|monkey|dog|troll|goblin|gremlin|thumb|potato|man|tranny|freak|corpse|crackhead|pedo|predator|serial killer|school shooter|melted (?:candle|crayon|wax))', s: 0.6, c: 'ambiguous', label: 'degrading insult', need: 'look looks sound sounds' },
  { p: '(?:kill|shoot|neck|hang) (?:yourself|urself|your self|ur self|yoself) (?:lol|lmao|loser|noob|idiot|bitch|pls|please|now|already|irl|fr|honestly|seriously|asap|today|tonight)', s: 0.9, c: 'robust', label: 'telling someone to kill themselves', need: 'kill shoot neck hang' },
  { p: '(?:shut (?:up|your mouth|ur mouth|your trap|it)|nobody asked|no one asked|noone asked|who asked|get lost|go away|stfu|gtfo|piss off|bugger off|sod off|get a life|keep crying)(?: (?:you |u )?(?:loser|idiot|moron|freak|clown|weirdo|creep|nerd|fatty|fatass|nobody|kid|boomer|incel|virgin|bitch|retard|noob|dumbass|pig|cow|worthless \\w+|pathetic \\w+|stupid \\w+|little \\w+))', s: 0.56, c: 'ambiguous', label: 'insult aimed at the reader', need: 'shut asked lost away stfu gtfo piss bugger sod life crying' },
  { p: '(?:nobody|no one|noone) (?:asked|cares about|wants) (?:for )?(?:your|ur) (?:opinion|input|take|thoughts|advice)(?: \\w+)? (?:loser|idiot|moron|freak|clown|weirdo|creep|nerd|fatty|virgin|bitch|retard|dumbass|pig|cow|kid)', s: 0.66, c: 'ambiguous', label: 'insult aimed at the reader', need: 'asked cares wants' },
  { p: '(?:you|u|ya) make me (?:sick|want to (?:puke|vomit|throw up)|wanna (?:puke|vomit|throw up)|physically ill)', s: 0.62, c: 'medium', label: 'degrading insult', need: 'sick puke vomit ill' },
  { p: '(?:shut up|stfu|nobody asked|no one asked|get lost|get a life)', s: 0.3, c: 'ambiguous', notAfter: '(?:you |u )?(?:loser|idiot|moron|freak|clown|weirdo|creep|nerd|fatty|fatass|nobody|kid|boomer|incel|virgin|bitch|retard|noob|dumbass|pig|cow)', label: 'dismissive remark', need: 'shut stfu asked lost life' },
  // --- broader shapes of contempt
  { p: '(?:ashamed|embarrassed|sorry) (?:to|that you|that u) (?:even )?(?:exist|be alive|were born|was born|be born|be seen with you)|(?:ashamed|embarrassed) of (?:your|ur) (?:existence|life)', s: 0.78, c: 'robust', label: 'degrading insult', need: 'ashamed embarrassed sorry' },
  { p: '(?:i )?(?:hope|wish|pray) (?:something|everything|anything) (?:terrible|bad|awful|horrible|painful|tragic) (?:happens|will happen|happened) to (?:you|u|ya|your family|ur family)|(?:i )?(?:hope|wish|pray) (?:you|u|ya) (?:lose everything|suffer|rot|choke|fail at everything|get what you deserve|never (?:find|have|get|know) (?:love|happiness|friends|peace)|cry yourself to sleep|get cancer|get hit|burn|die alone|end up alone|lose (?:your|ur) (?:job|family|friends|kids))', s: 0.8, c: 'robust', label: 'death wish aimed at the reader', need: 'hope wish pray' },
  { p: '(?:you|u) deserve (?:every|all the|everything|each|whatever) (?:bad|terrible|awful|horrible|shitty)(?: thing| things)?(?: that)?(?: happens| comes| will happen)?(?: to (?:you|u))?', s: 0.78, c: 'robust', label: 'death wish aimed at the reader', need: 'deserve' },
  { p: '(?:you|u|ya) (?:make|made|ruin|ruined|make|drag|drags) (?:everyone|everybody|everything|every \\w+|this (?:server|place|chat|community))(?: \\w+){0,3} (?:miserable|worse|unbearable|hell|toxic|sad)|(?:you|u) (?:are|re|r) the (?:reason|problem)(?: why)? (?:people|everyone|nobody|no one|this|we|everybody)(?: \\w+){0,4}', s: 0.66, c: 'medium', label: 'degrading insult', need: 'miserable worse unbearable hell toxic sad reason problem' },
  { p: '(?:the )?most hated (?:person|member|user|guy|girl|man|woman|human|kid|player)|(?:everyone|everybody|people|we all|the whole \\w+|they all|all of us)(?: \\w+){0,3} (?:hate|hates|despise|despises|laugh at|laughs at|talk about|talks about|talk shit about|make fun of|makes fun of|mock|mocks) (?:you|u|ya)(?: behind (?:your|ur) back)?|behind (?:your|ur) back', s: 0.62, c: 'medium', cue: true, label: 'isolating harassment', need: 'hated hate hates despise despises laugh laughs talk talks make makes mock mocks behind' },
  { p: '(?:as ugly|uglier|as dumb|dumber|as stupid|stupider|as fat|fatter|as annoying|more annoying|as gross|grosser|as disgusting|more disgusting) (?:as|than) (?:your|ur) (?:face|mom|mother|dad|personality|voice|art|life|existence|breath|takes)|(?:your|ur) (?:voice|face|laugh|existence|art|personality|whole life|life|body|breath) (?:is|looks|sounds) (?:as |so )?(?:ugly|disgusting|annoying|gross|pathetic|cringe|trash|garbage|a joke|worthless|meaningless|sad|a waste)', s: 0.66, c: 'medium', label: 'degrading insult', need: 'ugly uglier dumb dumber stupid stupider fat fatter annoying gross grosser disgusting voice face laugh existence art personality life body breath' },
  { p: '(?:imagine|lol imagine|lmao imagine) (?:thinking|believing|pretending|acting like) (?:anyone|someone|somebody|people|we|anybody|everyone) (?:likes|like|cares|care|wants|want|needs|need|would date|would miss|respects) (?:you|u)', s: 0.76, c: 'robust', label: 'isolating harassment', need: 'imagine' },
  { p: '(?:just|seriously|please|pls|plz|go|honestly|now)(?: \\w+)? (?:vanish|disappear|go away forever|leave forever|evaporate|fade away|cease to exist)|(?:just|please|pls) go(?: away)?$', s: 0.72, c: 'medium', notBefore: '(?:i|i want to|i wanna|i just want to|want to|wanna|to|gonna|going to)', label: 'telling someone to leave', need: 'vanish disappear away forever evaporate fade cease go' },
  { p: '(?:your|ur) (?:own )?(?:family|parents|mom|mum|dad|mother|father|friends|kids|wife|husband|girlfriend|boyfriend)(?: \\w+){0,2} (?:doesnt|dont|does not|do not|never|wont|will never)(?: even| really| ever)? (?:want|love|like|care about|miss|need|talk to) (?:you|u)', s: 0.8, c: 'robust', label: 'isolating harassment', need: 'want love like care miss need talk' },
  { p: '(?:your|ur) (?:whole )?(?:life|existence|career|family) is (?:a )?(?:joke|worthless|pathetic|meaningless|sad|a waste|a failure|a mess|garbage|trash)', s: 0.7, c: 'medium', label: 'degrading insult', need: 'joke worthless pathetic meaningless sad waste failure mess garbage trash' },
  { p: '(?:someone|anyone|a person|people|somebody|anybody) (?:as|this|that|so) (?:gross|ugly|disgusting|pathetic|stupid|dumb|fat|worthless|annoying|weird|creepy|boring|useless) (?:as (?:you|u)|like (?:you|u))', s: 0.72, c: 'medium', label: 'degrading insult', need: 'gross ugly disgusting pathetic stupid dumb fat worthless annoying weird creepy boring useless' },
  { p: '(?:nobody|no one|noone|nobody here|no one here) (?:cares|gives a (?:shit|fuck|damn)) (?:about|for) (?:you|u|your|ur)', s: 0.72, c: 'medium', label: 'isolating harassment', need: 'cares gives' },
  { p: '(?:the world|we|everyone|this server|this community|nobody|no one|society) (?:doesnt|does not|dont|do not) need (?:you|u|people like you)', s: 0.75, c: 'robust', label: 'isolating harassment', need: 'need' },
  { p: '(?:waste of|wasting) (?:everyone s|everyones|our|my|everybodys|everybody s) (?:time|space|air|oxygen|energy)', s: 0.62, c: 'medium', label: 'degrading insult', need: 'waste wasting' },
  { p: '{STRICT_YOURE}(?: so| such| really)* (?:a )?(?:fucking|fuckin|fkn|effing|goddamn) (?:{ADJ_MILD}|{ADJ_STRONG}|tool|idiot|moron|loser|clown|joke|muppet|donkey|failure|disgrace|creep|freak|pig|cow|nobody|waste)', s: 0.8, c: 'medium', label: 'insult aimed at the reader', need: 'fucking fuckin fkn effing goddamn' },
];

/** The words of an alternation like '(?:waste of (?:space|air)|mistake)': what a rule using it needs. */
function wordsOf(alternation: string): string {
  const stop = new Set(['a', 'an', 'the', 'of', 'to', 'as', 'for', 'on', 'in', 'this', 'sub']);
  return [...new Set(alternation.replace(/\(\?:|[()|?]/g, ' ').split(/\s+/).filter((w) => /^[a-z]+$/.test(w) && !stop.has(w)))].join(' ');
}
const INSULT_ANY = `(?:${INSULT_STRONG.slice(3, -1)}|${INSULT_MILD.slice(3, -1)})`;
const NEEDS: Record<string, string> = {
  '{INSULT_STRONG_NEED}': wordsOf(INSULT_STRONG),
  '{INSULT_MILD_NEED}': wordsOf(INSULT_MILD) + ' ' + wordsOf(INSULT_MILD).split(' ').map((w) => `${w}s`).join(' '),
  '{INSULT_ANY_NEED}': `${wordsOf(INSULT_STRONG)} ${wordsOf(INSULT_MILD)}`,
  '{ADJ_STRONG_NEED}': wordsOf(ADJ_STRONG),
  '{ADJ_MILD_NEED}': wordsOf(ADJ_MILD),
};

export const HARASSMENT_RULES = compileRules('harassment phrase', DEFS.map((d) => ({
    ...d,
    need: d.need?.replace(/\{[A-Z_]+\}/g, (m) => NEEDS[m] ?? m),
    p: d.p
      .replaceAll('{INSULT_ANY}', INSULT_ANY)
      .replaceAll('{INSULT_STRONG}', INSULT_STRONG)
      .replaceAll('{INSULT_MILD}', INSULT_MILD)
      .replaceAll('{NOUN_FRAME}', NOUN_FRAME)
      .replaceAll('{STRICT_YOURE}', STRICT_YOURE)
      .replaceAll('{ADJ_STRONG}', ADJ_STRONG)
      .replaceAll('{ADJ_MILD}', ADJ_MILD),
  })));

export function harassmentSignal(t: NormalizedText, ctx: ContextMarkers, damp: Dampening, ungated = false): SignalResult {
  const hits = matchRules(t, HARASSMENT_RULES, phraseHyperbole(ctx), damp, ungated);
  if (hits.length === 0) return { value: 0, category: 'targeted_harassment', flags: [], evidence: [] };
  const value = combineHits(hits);
  return { value, category: 'targeted_harassment', flags: value >= 0.3 ? ['harassment_language'] : [], evidence: hitEvidence(hits), raw: combineRaw(hits) };
}
