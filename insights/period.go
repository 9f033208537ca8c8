package insights

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Day is 24 hours, the unit periods and retention are usually given in.
const Day = 24 * time.Hour

// ParsePeriod reads a length of time as people write it for reports and
// retention: "7d" or "7" (days), "2w" (weeks), or a Go duration ("36h").
func ParsePeriod(s string) (time.Duration, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	unit := Day
	num := s
	switch {
	case strings.HasSuffix(s, "d"):
		num = strings.TrimSuffix(s, "d")
	case strings.HasSuffix(s, "w"):
		num, unit = strings.TrimSuffix(s, "w"), 7*Day
	}
	if n, err := strconv.Atoi(num); err == nil {
		if n <= 0 || n > 100*365 {
			return 0, fmt.Errorf("period %q: %w: want a positive number of days", s, ErrInvalid)
		}
		return time.Duration(n) * unit, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("period %q: %w: want days (7d), weeks (2w) or hours (36h)", s, ErrInvalid)
	}
	return d, nil
}

// FormatPeriod writes a length of time the way ParsePeriod reads it.
func FormatPeriod(d time.Duration) string {
	if d > 0 && d%Day == 0 {
		return strconv.Itoa(int(d/Day)) + "d"
	}
	return d.String()
}
