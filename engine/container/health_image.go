package container

import (
	"encoding/json"
	"time"
)

// HealthIntervalDisabled in a create option means --health-interval
// disable: no timer, only "healthcheck run".
const HealthIntervalDisabled time.Duration = -1

// imageHealthcheck reads the HEALTHCHECK of a docker-format image config
// blob (the OCI config has none); nil when there is none.
func imageHealthcheck(blob []byte) *Healthcheck {
	var cfg struct {
		Config struct {
			Healthcheck *struct {
				Test        []string      `json:"Test"`
				Interval    time.Duration `json:"Interval"`
				Timeout     time.Duration `json:"Timeout"`
				StartPeriod time.Duration `json:"StartPeriod"`
				Retries     int           `json:"Retries"`
			} `json:"Healthcheck"`
		} `json:"config"`
	}
	if json.Unmarshal(blob, &cfg) != nil || cfg.Config.Healthcheck == nil || len(cfg.Config.Healthcheck.Test) == 0 {
		return nil
	}
	h := cfg.Config.Healthcheck
	return &Healthcheck{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries}
}

// resolveHealth gives the container's healthcheck: the user's command, or
// else the image's with the user's settings over it, and podman's defaults
// for what neither set. A NONE test stays, so the image's never applies.
// img is the image's own healthcheck (nil: none).
func resolveHealth(img, user *Healthcheck) *Healthcheck {
	if user != nil && len(user.Test) > 0 && user.Test[0] == "NONE" {
		return &Healthcheck{Test: []string{"NONE"}}
	}
	var h Healthcheck
	switch {
	case user != nil && len(user.Test) > 0:
		h = *user
	default:
		if img == nil || img.Test[0] == "NONE" {
			return nil
		}
		h = *img
		if user != nil {
			if user.Interval != 0 {
				h.Interval = user.Interval
			}
			if user.Timeout != 0 {
				h.Timeout = user.Timeout
			}
			if user.StartPeriod != 0 {
				h.StartPeriod = user.StartPeriod
			}
			if user.Retries != 0 {
				h.Retries = user.Retries
			}
			h.OnFailure = user.OnFailure
		}
	}
	switch h.Interval {
	case 0:
		h.Interval = DefaultHealthInterval
	case HealthIntervalDisabled:
		h.Interval = 0
	}
	if h.Timeout == 0 {
		h.Timeout = DefaultHealthTimeout
	}
	if h.Retries == 0 {
		h.Retries = DefaultHealthRetries
	}
	return &h
}
