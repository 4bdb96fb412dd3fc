/**
 * Target discovery: static targets, AWS Cloud Map instances, tagged EC2 instances and the AZ mesh.
 *
 * Each source is independent: a failing source is recorded in `failures` (and becomes the
 * `probe_discovery_failures` metric) and never stops the others, least of all the static targets.
 * The SDK clients are passed in, so tests fake them at the client boundary. The SDK modules (about
 * 600 KB of bundle, most of a cold start) are imported when a source that needs them runs, so a run
 * without discovery never loads them; the bundler puts them in chunks of their own.
 */
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { ServiceDiscoveryClient } from '@aws-sdk/client-servicediscovery';
import type { ProbeDiscovery, ProbeTarget } from './event.ts';

/** Where a target came from. */
export type TargetOrigin = 'static' | 'cloudmap' | 'ec2' | 'mesh';

/** A target to probe, with its origin. */
export type DiscoveredTarget = ProbeTarget & { readonly origin: TargetOrigin };

/** One discovery source that failed. */
export interface DiscoveryFailure {
  readonly source: Exclude<TargetOrigin, 'static'>;
  /** What was being discovered, e.g. the namespace name. */
  readonly scope: string;
  readonly error: string;
}

/** Everything a run will probe, and what discovery could not do. */
export interface DiscoveryResult {
  readonly targets: DiscoveredTarget[];
  readonly failures: DiscoveryFailure[];
  /** Targets found per source (sources not configured are absent). */
  readonly counts: Partial<Record<TargetOrigin, number>>;
  /** Instances or interfaces skipped for lack of an address or port, with why. */
  readonly skipped: { source: TargetOrigin; id: string; why: string }[];
}

/** Inputs of one discovery pass. */
export interface DiscoverOptions {
  /** Region the run probes from; static targets with `from` not listing it are left out. */
  sourceRegion: string;
  targets: readonly ProbeTarget[];
  discovery: ProbeDiscovery;
  mesh?: { vpcEndpointIds: readonly string[]; port: number };
  /** AWS clients; a configured source without its client is a failure. */
  clients: DiscoveryClients;
}

/** The AWS clients discovery uses; each is needed only by the sources that call it. */
export interface DiscoveryClients {
  serviceDiscovery?: ServiceDiscoveryClient;
  ec2?: EC2Client;
}

/**
 * Collects the run's targets from every configured source.
 * Duplicates (same name, host and port) are kept once, the first source winning.
 * @param opts static targets, discovery settings and clients
 */
export async function discoverTargets(opts: DiscoverOptions): Promise<DiscoveryResult> {
  const failures: DiscoveryFailure[] = [];
  const skipped: DiscoveryResult['skipped'] = [];
  const counts: DiscoveryResult['counts'] = {};
  const found: DiscoveredTarget[] = opts.targets
    .filter((t) => t.from === undefined || t.from.includes(opts.sourceRegion))
    .map((t) => ({ ...t, origin: 'static' as const }));
  counts.static = found.length;

  const jobs: Promise<void>[] = [];
  if (opts.discovery.cloudMap.length > 0) {
    counts.cloudmap = 0;
    for (const entry of opts.discovery.cloudMap) {
      jobs.push(
        guarded('cloudmap', entry.namespace, opts.clients.serviceDiscovery, failures, async (client) => {
          const ts = await discoverCloudMap(client, entry, opts.sourceRegion, skipped);
          counts.cloudmap = (counts.cloudmap ?? 0) + ts.length;
          found.push(...ts);
        }),
      );
    }
  }
  if (opts.discovery.ec2Tags) {
    const tags = opts.discovery.ec2Tags;
    counts.ec2 = 0;
    jobs.push(
      guarded('ec2', `tag ${tags.tagKey}`, opts.clients.ec2, failures, async (client) => {
        const ts = await discoverEc2(client, tags, opts.sourceRegion, skipped);
        counts.ec2 = ts.length;
        found.push(...ts);
      }),
    );
  }
  if (opts.mesh && opts.mesh.vpcEndpointIds.length > 0) {
    const mesh = opts.mesh;
    counts.mesh = 0;
    jobs.push(
      guarded('mesh', mesh.vpcEndpointIds.join(','), opts.clients.ec2, failures, async (client) => {
        const ts = await discoverMesh(client, mesh.vpcEndpointIds, mesh.port, opts.sourceRegion, skipped);
        counts.mesh = ts.length;
        found.push(...ts);
      }),
    );
  }
  await Promise.all(jobs);
  // Sources run concurrently; report in a stable order.
  failures.sort((a, b) => a.source.localeCompare(b.source) || a.scope.localeCompare(b.scope));

  const seen = new Set<string>();
  const targets = found.filter((t) => {
    const key = `${t.name}\u0000${endpointOf(t)}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return { targets, failures, counts, skipped };
}

async function guarded<C>(
  source: DiscoveryFailure['source'],
  scope: string,
  client: C | undefined,
  failures: DiscoveryFailure[],
  run: (client: C) => Promise<void>,
): Promise<void> {
  if (!client) {
    failures.push({
      source,
      scope,
      error: `no ${source === 'cloudmap' ? 'servicediscovery' : 'ec2'} client configured`,
    });
    return;
  }
  try {
    await run(client);
  } catch (err) {
    const e = err as Error & { name?: string };
    failures.push({ source, scope, error: `${e.name ?? 'Error'}: ${e.message}` });
  }
}

function endpointOf(t: ProbeTarget): string {
  switch (t.kind) {
    case 'tcp':
      return `${t.host}:${t.port}`;
    case 'http':
      return t.url;
    case 'dns':
      return `${t.recordType} ${t.query}`;
  }
}

function tcpTarget(
  fields: { name: string; host: string; port: number; region?: string; az?: string },
  origin: TargetOrigin,
): DiscoveredTarget {
  return {
    kind: 'tcp',
    name: fields.name,
    host: fields.host,
    port: fields.port,
    ...(fields.region ? { region: fields.region } : {}),
    ...(fields.az ? { az: fields.az } : {}),
    allAddresses: false,
    origin,
  };
}

/**
 * Cloud Map: every instance of the namespace's services (or of the listed ones) as a TCP target
 * named `cloudmap/<namespace>/<service>`, at its AWS_INSTANCE_IPV4 (or IPV6) and AWS_INSTANCE_PORT
 * (or the configured port); AVAILABILITY_ZONE and REGION attributes (set by ECS) become target_az and
 * target_region.
 */
async function discoverCloudMap(
  client: ServiceDiscoveryClient,
  entry: { namespace: string; services?: string[]; port?: number },
  sourceRegion: string,
  skipped: DiscoveryResult['skipped'],
): Promise<DiscoveredTarget[]> {
  const { paginateListInstances, paginateListNamespaces, paginateListServices } = await import(
    '@aws-sdk/client-servicediscovery'
  );
  let namespaceId = entry.namespace.startsWith('ns-') ? entry.namespace : undefined;
  const namespaceName = entry.namespace;
  if (!namespaceId) {
    for await (const page of paginateListNamespaces({ client }, {})) {
      const ns = page.Namespaces?.find((n) => n.Name === entry.namespace);
      if (ns?.Id) {
        namespaceId = ns.Id;
        break;
      }
    }
    if (!namespaceId) throw new Error(`cloud map namespace ${entry.namespace} not found`);
  }
  const services: { id: string; name: string }[] = [];
  for await (const page of paginateListServices(
    { client },
    { Filters: [{ Name: 'NAMESPACE_ID', Values: [namespaceId], Condition: 'EQ' }] },
  )) {
    for (const s of page.Services ?? []) {
      if (s.Id && s.Name && (entry.services === undefined || entry.services.includes(s.Name)))
        services.push({ id: s.Id, name: s.Name });
    }
  }
  const missing = (entry.services ?? []).filter((name) => !services.some((s) => s.name === name));
  if (missing.length > 0)
    throw new Error(`cloud map services not found in ${entry.namespace}: ${missing.join(', ')}`);

  const targets: DiscoveredTarget[] = [];
  for (const service of services) {
    for await (const page of paginateListInstances({ client }, { ServiceId: service.id })) {
      for (const inst of page.Instances ?? []) {
        const attrs = inst.Attributes ?? {};
        const host = attrs.AWS_INSTANCE_IPV4 ?? attrs.AWS_INSTANCE_IPV6;
        const port = Number(attrs.AWS_INSTANCE_PORT ?? entry.port);
        const id = `${service.name}/${inst.Id ?? '?'}`;
        if (!host) {
          skipped.push({
            source: 'cloudmap',
            id,
            why: 'no AWS_INSTANCE_IPV4 or AWS_INSTANCE_IPV6 attribute',
          });
          continue;
        }
        if (!Number.isInteger(port) || port < 1 || port > 65535) {
          skipped.push({
            source: 'cloudmap',
            id,
            why: `no usable port (AWS_INSTANCE_PORT ${attrs.AWS_INSTANCE_PORT ?? 'absent'}, none configured)`,
          });
          continue;
        }
        targets.push(
          tcpTarget(
            {
              name: `cloudmap/${namespaceName}/${service.name}`,
              host,
              port,
              region: attrs.REGION ?? sourceRegion,
              az: attrs.AVAILABILITY_ZONE,
            },
            'cloudmap',
          ),
        );
      }
    }
  }
  return targets;
}

/**
 * EC2: running instances carrying the probe tag, as TCP targets named `ec2/<instance-id>` at their
 * private IPv4 (or IPv6) address; the port comes from the port tag, else the default.
 */
async function discoverEc2(
  client: EC2Client,
  tags: { tagKey: string; portTagKey: string; defaultPort: number },
  sourceRegion: string,
  skipped: DiscoveryResult['skipped'],
): Promise<DiscoveredTarget[]> {
  const { paginateDescribeInstances } = await import('@aws-sdk/client-ec2');
  const targets: DiscoveredTarget[] = [];
  const pages = paginateDescribeInstances(
    { client },
    {
      Filters: [
        { Name: 'tag-key', Values: [tags.tagKey] },
        { Name: 'instance-state-name', Values: ['running'] },
      ],
    },
  );
  for await (const page of pages) {
    for (const reservation of page.Reservations ?? []) {
      for (const inst of reservation.Instances ?? []) {
        const id = inst.InstanceId ?? '?';
        // The filter already asks for running instances; re-check so a stale page cannot add a stopped one.
        if (inst.State?.Name !== undefined && inst.State.Name !== 'running') continue;
        const host = inst.PrivateIpAddress ?? inst.Ipv6Address;
        if (!host) {
          skipped.push({ source: 'ec2', id, why: 'no private address' });
          continue;
        }
        const portTag = inst.Tags?.find((t) => t.Key === tags.portTagKey)?.Value;
        let port = tags.defaultPort;
        if (portTag !== undefined) {
          const parsed = Number(portTag);
          if (!Number.isInteger(parsed) || parsed < 1 || parsed > 65535) {
            skipped.push({ source: 'ec2', id, why: `tag ${tags.portTagKey} is not a port: "${portTag}"` });
            continue;
          }
          port = parsed;
        }
        targets.push(
          tcpTarget(
            { name: `ec2/${id}`, host, port, region: sourceRegion, az: inst.Placement?.AvailabilityZone },
            'ec2',
          ),
        );
      }
    }
  }
  return targets;
}

/**
 * AZ mesh: one TCP target per network interface of each interface VPC endpoint, named
 * `mesh/<vpce-id>`, with the interface's AZ as target_az, so every AZ's function measures every AZ.
 */
async function discoverMesh(
  client: EC2Client,
  endpointIds: readonly string[],
  port: number,
  sourceRegion: string,
  skipped: DiscoveryResult['skipped'],
): Promise<DiscoveredTarget[]> {
  const { DescribeNetworkInterfacesCommand, DescribeVpcEndpointsCommand } = await import(
    '@aws-sdk/client-ec2'
  );
  const endpoints = await client.send(new DescribeVpcEndpointsCommand({ VpcEndpointIds: [...endpointIds] }));
  const eniToEndpoint = new Map<string, string>();
  for (const ep of endpoints.VpcEndpoints ?? []) {
    for (const eni of ep.NetworkInterfaceIds ?? []) eniToEndpoint.set(eni, ep.VpcEndpointId ?? '?');
  }
  const missing = endpointIds.filter((id) => !endpoints.VpcEndpoints?.some((ep) => ep.VpcEndpointId === id));
  if (missing.length > 0) throw new Error(`vpc endpoints not found: ${missing.join(', ')}`);
  if (eniToEndpoint.size === 0) return [];
  const enis = await client.send(
    new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [...eniToEndpoint.keys()] }),
  );
  const targets: DiscoveredTarget[] = [];
  for (const eni of enis.NetworkInterfaces ?? []) {
    const endpointId = eniToEndpoint.get(eni.NetworkInterfaceId ?? '') ?? '?';
    if (!eni.PrivateIpAddress) {
      skipped.push({ source: 'mesh', id: eni.NetworkInterfaceId ?? '?', why: 'no private address' });
      continue;
    }
    targets.push(
      tcpTarget(
        {
          name: `mesh/${endpointId}`,
          host: eni.PrivateIpAddress,
          port,
          region: sourceRegion,
          az: eni.AvailabilityZone,
        },
        'mesh',
      ),
    );
  }
  return targets.sort((a, b) => (a.az ?? '').localeCompare(b.az ?? ''));
}
