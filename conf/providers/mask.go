package providers

import "strings"

// Hidden replaces a secret value wherever a config is shown.
const Hidden = "[hidden]"

// secretSuffixes are the lower-cased key endings DefaultSecretKey treats as secret.
var secretSuffixes = []string{
	"password", "passwd", "secret", "token", "credentials", "jaas.config",
	"secret.key", "secret_key", "secretkey",
	"access.key", "access_key", "accesskey",
	"api.key", "api_key", "apikey",
	"private.key", "private_key", "privatekey",
}

// DefaultSecretKey is the rule Mask applies to every key: a key is secret when, lower-cased, it
// ends with one of password, passwd, secret, token, credentials, jaas.config, or secret/access/
// api/private followed by key (joined by '.', '_' or nothing, so RocketMQ's accessKey and
// secretKey match). It errs toward hiding: "db.password", "dbPassword", "ssl.key.password",
// "sasl.jaas.config" and "aws.secret.access.key" are secret; "key.converter" and "tasks.max"
// are not.
func DefaultSecretKey(key string) bool {
	k := strings.ToLower(key)
	for _, s := range secretSuffixes {
		if strings.HasSuffix(k, s) {
			return true
		}
	}
	return false
}

// Mask returns a copy of cfg fit to show in REST answers and logs. cfg must be the config as
// stored, with its placeholders, never a resolved one.
//
// A value of a secret key, one that secretKeys (nil: none) or DefaultSecretKey accepts, becomes
// Hidden unless it is made of placeholders alone: the placeholder names where the secret lives,
// not the secret, while any literal text in it may be (part of) the secret. Values of other keys
// are shown as they are, placeholders included.
func Mask(cfg map[string]string, secretKeys func(key string) bool) map[string]string {
	if cfg == nil {
		return nil
	}
	out := make(map[string]string, len(cfg))
	for k, v := range cfg {
		secret := DefaultSecretKey(k) || secretKeys != nil && secretKeys(k)
		if secret && !onlyPlaceholders(v) {
			v = Hidden
		}
		out[k] = v
	}
	return out
}
