/**
 * Home Assistant MQTT discovery configs for one printer (docs/mqtt.md §2): one HA device per
 * printer (linked to the host's device through `via_device`), with sensors for its state,
 * progress, times, file and heaters, binary sensors for printing and connected, and buttons for
 * pause, resume and cancel. A pure function of what is known; the bridge publishes the result.
 */
import { availabilityTopic, commandTopic, hostStatusTopic, nodeId, stateTopic } from "./topics.ts";

export interface DiscoveryInput {
  /** Discovery prefix (HA's default `homeassistant`) and the bridge's base topic. */
  prefix: string;
  base: string;
  printer: { id: string; name: string; model: string | null };
  /** Heaters the printer reports (tool0, bed, chamber…). */
  heaters: readonly string[];
  version: string;
}

export interface DiscoveryMessage {
  topic: string;
  /** The config; null = delete the entity (an empty payload). */
  config: Record<string, unknown> | null;
}

const PRINTER_STATES = ["closed", "connecting", "operational", "printing", "paused", "error"];

/** Heater key → the name HA shows: tool0 → Nozzle (Nozzle 2 for tool1), bed → Bed. */
export function heaterName(key: string): string {
  const tool = /^tool(\d+)$/.exec(key);
  if (tool) return tool[1] === "0" ? "Nozzle" : `Nozzle ${Number(tool[1]) + 1}`;
  return key.charAt(0).toUpperCase() + key.slice(1);
}

/** The discovery messages of one printer's entities. */
export function discoveryConfigs(input: DiscoveryInput): DiscoveryMessage[] {
  const { prefix, base, printer, version } = input;
  const node = nodeId(base);
  const deviceId = `${node}_${printer.id}`;
  const state = stateTopic(base, printer.id);
  const hostOnly = { availability: [{ topic: hostStatusTopic(base) }] };
  const linked = { availability: [{ topic: hostStatusTopic(base) }, { topic: availabilityTopic(base, printer.id) }], availability_mode: "all" };
  const device = {
    identifiers: [deviceId],
    name: printer.name,
    manufacturer: "Layerline",
    model: printer.model ?? "3D printer",
    sw_version: `Layerline ${version}`,
    via_device: node,
  };
  const origin = { name: "Layerline", sw_version: version };
  const entity = (component: string, key: string, config: Record<string, unknown>): DiscoveryMessage => {
    const uniqueId = `${deviceId}_${key}`;
    return { topic: `${prefix}/${component}/${uniqueId}/config`, config: { unique_id: uniqueId, object_id: uniqueId, ...config, device, origin } };
  };
  const sensor = (key: string, name: string, template: string, extra: Record<string, unknown> = {}) =>
    entity("sensor", key, { name, state_topic: state, value_template: template, ...linked, ...extra });
  const button = (verb: string, name: string, icon: string) =>
    entity("button", verb, { name, command_topic: commandTopic(base, printer.id, verb), payload_press: "PRESS", qos: 1, retain: false, icon, ...linked });

  const messages = [
    // The state stays visible while the printer is off-line (it then says closed or error).
    entity("sensor", "state", { name: "State", state_topic: state, value_template: "{{ value_json.state }}", device_class: "enum", options: PRINTER_STATES, ...hostOnly }),
    entity("binary_sensor", "connected", { name: "Connected", state_topic: state, value_template: "{{ 'ON' if value_json.connected else 'OFF' }}", device_class: "connectivity", ...hostOnly }),
    entity("binary_sensor", "printing", { name: "Printing", state_topic: state, value_template: "{{ 'ON' if value_json.printing else 'OFF' }}", device_class: "running", ...linked }),
    sensor("progress", "Progress", "{{ value_json.progress if value_json.progress is not none else 'null' }}", { unit_of_measurement: "%", state_class: "measurement", suggested_display_precision: 1, icon: "mdi:progress-clock" }),
    sensor("time_left", "Time left", "{{ value_json.left if value_json.left is not none else 'null' }}", { unit_of_measurement: "s", device_class: "duration" }),
    sensor("elapsed", "Print time", "{{ value_json.elapsed if value_json.elapsed is not none else 'null' }}", { unit_of_measurement: "s", device_class: "duration" }),
    sensor("file", "File", "{{ value_json.file if value_json.file is not none else '' }}", { icon: "mdi:file-outline" }),
  ];
  for (const heater of input.heaters) {
    const name = heaterName(heater);
    const reading = (field: "actual" | "target") => `{{ value_json.temperatures['${heater}'].${field} if '${heater}' in value_json.temperatures and value_json.temperatures['${heater}'].${field} is not none else 'null' }}`;
    const temperature = { unit_of_measurement: "°C", device_class: "temperature", state_class: "measurement", suggested_display_precision: 1 };
    messages.push(sensor(`${heater}_temperature`, `${name} temperature`, reading("actual"), temperature));
    messages.push(sensor(`${heater}_target`, `${name} target`, reading("target"), temperature));
  }
  messages.push(button("pause", "Pause", "mdi:pause"), button("resume", "Resume", "mdi:play"), button("cancel", "Cancel", "mdi:stop"));
  return messages;
}

/**
 * The heaters to announce: those the printer reports, or a nozzle and a bed before it ever reported
 * any. A key goes into a topic level, a unique id and a template, and comes from the serial line (any
 * word before a colon that starts with a capital): one with other characters than HA allows in an
 * id (`+`, `#`, `/`, quotes) is left out — a wildcard in a published topic makes the broker drop the connection.
 */
export function announcedHeaters(reported: readonly string[]): string[] {
  const safe = reported.filter((key) => /^[a-zA-Z0-9_-]{1,40}$/.test(key));
  return safe.length > 0 ? safe.sort() : ["bed", "tool0"];
}

/**
 * The host's own device (the one each printer's device names as `via_device`), with one entity:
 * whether the host is on-line, from its availability topic (the will says offline).
 */
export function hostDiscovery(input: { prefix: string; base: string; version: string }): DiscoveryMessage {
  const node = nodeId(input.base);
  const uniqueId = `${node}_host`;
  return {
    topic: `${input.prefix}/binary_sensor/${uniqueId}/config`,
    config: {
      unique_id: uniqueId,
      object_id: uniqueId,
      name: "Host",
      state_topic: hostStatusTopic(input.base),
      payload_on: "online",
      payload_off: "offline",
      device_class: "connectivity",
      device: { identifiers: [node], name: `Layerline ${input.base}`, manufacturer: "Layerline", model: "Layerline host", sw_version: `Layerline ${input.version}` },
      origin: { name: "Layerline", sw_version: input.version },
    },
  };
}
