#include "chunk_metadata.h"

namespace callrec::muxer {

nlohmann::json chunk_metadata(const RecordingConfig& config, const ChunkFacts& facts,
                              const ChunkAnnotation& annotation) {
  nlohmann::json out = nlohmann::json::object();
  if (annotation.extra.is_object()) out.update(annotation.extra);
  out["recordingId"] = config.recording_id;
  out["sha256"] = facts.sha256_hex;
  out["sizeBytes"] = facts.size_bytes;

  out["resourceId"] = config.resource_id;
  out["callId"] = config.call_id;
  out["chunkDocumentId"] = facts.document_id;
  out["chunkIndex"] = facts.chunk_index;
  out["chunkStartTime"] = format_iso8601(annotation.start_time);
  out["chunkDuration"] = facts.duration_ms;
  nlohmann::json pauses = nlohmann::json::array();
  for (const PauseInterval& pause : annotation.pauses) {
    pauses.push_back({{"startTime", format_iso8601(pause.start)}, {"duration", pause.duration_ms}});
  }
  out["pauseResumeIntervals"] = std::move(pauses);
  out["recordingInfo"] = {
      {"contentType", "mixed"},
      {"channelType", "audioVideo"},
      {"format", "mp4"},
      {"audioConfiguration",
       {{"sampleRate", std::to_string(kSampleRateHz)},
        {"bitRate", config.encoder.audio_bitrate_bps},
        {"channels", 1}}},
      {"videoConfiguration",
       {{"longerSideLength", kVideoWidth},
        {"shorterSideLength", kVideoHeight},
        {"framerate", kFrameRate},
        {"bitRate", facts.video_bit_rate.value_or(config.encoder.video_bitrate_bps)}}},
  };
  nlohmann::json participants = nlohmann::json::array();
  for (const std::string& id : annotation.participant_ids) participants.push_back({{"participantId", id}});
  out["participants"] = std::move(participants);
  return out;
}

nlohmann::json recording_notification(const RecordingConfig& config, const std::string& event_id,
                                      const std::vector<ChunkSummary>& chunks, int64_t duration_ms,
                                      const std::string& session_end_reason, WallClock event_time) {
  nlohmann::json chunk_list = nlohmann::json::array();
  for (const ChunkSummary& chunk : chunks) {
    chunk_list.push_back(
        {{"documentId", chunk.document_id}, {"index", chunk.index}, {"endReason", chunk.end_reason}});
  }
  return {
      {"id", event_id},
      {"topic", config.resource_id},
      {"subject", "/recording/call/" + config.call_id},
      {"data",
       {{"recordingStorageInfo", {{"recordingChunks", std::move(chunk_list)}}},
        {"recordingStartTime", format_iso8601(config.recording_start_time)},
        {"recordingDurationMs", duration_ms},
        {"sessionEndReason", session_end_reason}}},
      {"eventType", "Microsoft.Communication.RecordingFileStatusUpdated"},
      {"dataVersion", "1.0"},
      {"metadataVersion", "1"},
      {"eventTime", format_iso8601(event_time)},
  };
}

}  // namespace callrec::muxer
