package kafkasink

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/segmentio/kafka-go"
)

// EnsureTopics checks that every topic exists. A missing one is created with
// Config.Partitions and Config.ReplicationFactor when Config.CreateTopics is on;
// otherwise the error wraps ErrTopicMissing and names it. A topic that exists is used as
// it is, and one created concurrently by someone else is not an error.
func (s *Sink) EnsureTopics(ctx context.Context, topics []string) error {
	if len(topics) == 0 {
		return nil
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.PublishTimeout)
		defer cancel()
	}
	meta, err := s.client.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
	if err != nil {
		return fmt.Errorf("look up kafka topics %s: %w", strings.Join(topics, ", "), err)
	}
	var missing []string
	for _, t := range meta.Topics {
		switch {
		case t.Error == nil:
		case errors.Is(t.Error, kafka.UnknownTopicOrPartition):
			missing = append(missing, t.Name)
		default:
			return fmt.Errorf("look up kafka topic %s: %w", t.Name, t.Error)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if !s.cfg.CreateTopics {
		return fmt.Errorf("%w: %s (create_topics is off)", ErrTopicMissing, strings.Join(missing, ", "))
	}
	req := &kafka.CreateTopicsRequest{}
	for _, name := range missing {
		req.Topics = append(req.Topics, kafka.TopicConfig{
			Topic:             name,
			NumPartitions:     s.cfg.Partitions,
			ReplicationFactor: s.cfg.ReplicationFactor,
		})
	}
	resp, err := s.client.CreateTopics(ctx, req)
	if err != nil {
		return fmt.Errorf("create kafka topics %s: %w", strings.Join(missing, ", "), err)
	}
	for _, name := range missing {
		switch err := resp.Errors[name]; {
		case errors.Is(err, kafka.TopicAlreadyExists):
			continue
		case err != nil:
			return fmt.Errorf("create kafka topic %s: %w", name, err)
		}
		s.log.Info().Str("topic", name).Int("partitions", s.cfg.Partitions).Msg("created kafka topic")
	}
	return nil
}
