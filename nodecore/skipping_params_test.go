package nodecore_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/nodecore"
	"dysl_vla/paramserver"
	"dysl_vla/skipping"
)

func TestSkippingParametersRoundTrip(t *testing.T) {
	cfg := skipping.DefaultConfig()
	cfg.Strategy = skipping.StrategyRandomSkip
	cfg.ControllerThreshold, cfg.EtaMove, cfg.EtaVerify = 0.3, 0.07, 0.2
	cfg.ContinuityWindow, cfg.Stride, cfg.ExecutedActions = 7, 2, 3
	cfg.Verification, cfg.PreSkipPrediction, cfg.SkipRatio, cfg.Seed = false, false, 0.4, 9
	overrides := map[string]paramserver.Value{}
	for _, p := range nodecore.SkippingParameters(cfg) {
		overrides[p.Name] = p.Value
	}
	_, settings, err := nodecore.NewParamServer("/dysl_vla_node", overrides, nil)
	require.NoError(t, err)
	require.Equal(t, cfg, settings.Live.Skipping)
}
