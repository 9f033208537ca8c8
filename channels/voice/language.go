package voice

import "strings"

// Language is the language Twilio speaks and listens in for a conversation
// in lang, for a city in time zone tz: "en" in America/Toronto is en-CA,
// "fr" there fr-CA. A lang that already names a region is kept; a region
// Twilio's speech does not serve falls back to the language's usual one.
func Language(lang, tz string) string {
	if lang == "" {
		lang = "en"
	}
	if strings.Contains(lang, "-") {
		return lang
	}
	lang = strings.ToLower(lang)
	if r := zoneRegion(tz); r != "" && supported[lang+"-"+r] {
		return lang + "-" + r
	}
	if d, ok := fallback[lang]; ok {
		return d
	}
	return lang
}

// supported are the language-region pairs Twilio both speaks (<Say>) and
// recognises (<Gather input="speech">) that a city is likely to want.
var supported = map[string]bool{
	"en-AU": true, "en-CA": true, "en-GB": true, "en-IE": true, "en-IN": true, "en-NZ": true, "en-US": true,
	"fr-BE": true, "fr-CA": true, "fr-CH": true, "fr-FR": true,
	"es-ES": true, "es-MX": true, "es-US": true,
	"de-AT": true, "de-CH": true, "de-DE": true,
	"it-IT": true, "nl-BE": true, "nl-NL": true, "pt-BR": true, "pt-PT": true,
}

var fallback = map[string]string{
	"en": "en-US", "fr": "fr-FR", "es": "es-ES", "de": "de-DE", "it": "it-IT", "nl": "nl-NL", "pt": "pt-BR",
}

// zoneRegion names the country of an IANA time zone, for the zones of the
// countries above; "" when unknown.
func zoneRegion(tz string) string {
	if r, ok := zones[tz]; ok {
		return r
	}
	for prefix, r := range zonePrefixes {
		if strings.HasPrefix(tz, prefix) {
			return r
		}
	}
	return ""
}

var zones = map[string]string{
	"America/Toronto": "CA", "America/Montreal": "CA", "America/Vancouver": "CA", "America/Edmonton": "CA",
	"America/Winnipeg": "CA", "America/Halifax": "CA", "America/St_Johns": "CA", "America/Regina": "CA",
	"America/Moncton": "CA", "America/Whitehorse": "CA", "America/Yellowknife": "CA", "America/Iqaluit": "CA",
	"America/Glace_Bay": "CA", "America/Goose_Bay": "CA", "America/Swift_Current": "CA", "America/Dawson_Creek": "CA",
	"America/Fort_Nelson": "CA", "America/Creston": "CA", "America/Thunder_Bay": "CA", "America/Nipigon": "CA",
	"America/Rainy_River": "CA", "America/Atikokan": "CA", "America/Inuvik": "CA", "America/Rankin_Inlet": "CA",
	"America/Cambridge_Bay": "CA", "America/Resolute": "CA", "America/Dawson": "CA", "America/Pangnirtung": "CA",
	"Canada/Eastern": "CA", "Canada/Central": "CA", "Canada/Mountain": "CA", "Canada/Pacific": "CA",
	"Canada/Atlantic": "CA", "Canada/Newfoundland": "CA", "Canada/Saskatchewan": "CA",
	"America/New_York": "US", "America/Chicago": "US", "America/Denver": "US", "America/Los_Angeles": "US",
	"America/Phoenix": "US", "America/Anchorage": "US", "America/Detroit": "US", "America/Boise": "US",
	"America/Juneau": "US", "America/Adak": "US", "America/Puerto_Rico": "US", "Pacific/Honolulu": "US",
	"Europe/London": "GB", "Europe/Dublin": "IE", "Asia/Kolkata": "IN", "Asia/Calcutta": "IN",
	"Pacific/Auckland": "NZ", "Europe/Paris": "FR", "Europe/Brussels": "BE", "Europe/Zurich": "CH",
	"Europe/Madrid": "ES", "America/Mexico_City": "MX", "America/Monterrey": "MX", "America/Tijuana": "MX",
	"Europe/Berlin": "DE", "Europe/Vienna": "AT", "Europe/Rome": "IT", "Europe/Amsterdam": "NL",
	"Europe/Lisbon": "PT", "America/Sao_Paulo": "BR",
}

var zonePrefixes = map[string]string{
	"Australia/": "AU", "America/Indiana/": "US", "America/Kentucky/": "US", "America/North_Dakota/": "US", "US/": "US",
}
