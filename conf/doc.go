// Package conf loads and validates the worker configuration. It is the only importer of
// viper. A config is read from YAML, JSON or Java-style .properties/.conf files, with the
// keys RocketMQ Connect uses (workerId, namesrvAddr, httpPort, ...), environment overrides
// RMQCONNECT_<KEY> (key upper-cased, e.g. RMQCONNECT_HTTPPORT), and RMQ_NAMESRV as a
// fallback for namesrvAddr. Every error names the dotted key, the bad value and the reason;
// unknown keys are errors, so a typo never silently falls back to a default.
package conf
