package replay

import (
	"dysl_vla/nodecore"
	"dysl_vla/paramserver"
)

// LoadParams builds the parameters the node NodeName would run with under `--params-file paramsFile`
// (empty: the defaults), and says, one warning each, what of the file the node never sees: keys it
// does not declare (a misspelt controler_threshold) and blocks for other node names. rclcpp ignores
// both without a word, which leaves a user replaying the defaults while believing the file applied.
func LoadParams(paramsFile string) (*paramserver.Server, nodecore.Settings, []string, error) {
	srv, settings, err := nodecore.LoadParams(paramsFile, NodeName, nil)
	if err != nil || paramsFile == "" {
		return srv, settings, nil, err
	}
	warnings, err := paramserver.IgnoredSettings(srv, []string{paramsFile})
	if err != nil {
		return nil, nodecore.Settings{}, nil, err
	}
	return srv, settings, warnings, nil
}
