package worker

import "context"

// recLogLevel is the config topic record of a cluster-scoped log level change (Kafka
// Connect's KIP-976): Name is the logger, Level the level. It changes no fold; every worker
// that reads it live (written after the worker caught up with the config topic) hands it to
// DistributedConfig.OnLogLevel, so the change reaches every worker running then and, as in
// Kafka, is not replayed by workers that start later.
const recLogLevel = "log-level"

// SetClusterLogLevel sets logger to level on every worker of the cluster: it stores a
// log-level record in the config topic and returns once this worker has applied it.
func (d *Distributed) SetClusterLogLevel(ctx context.Context, logger, level string) error {
	return d.write(ctx, configRecord{Type: recLogLevel, Name: logger, Level: level})
}

// applyLogLevel hands a live log-level record to the OnLogLevel hook.
func (d *Distributed) applyLogLevel(r configRecord) {
	if d.cfg.OnLogLevel != nil {
		d.cfg.OnLogLevel(r.Name, r.Level)
	}
}
