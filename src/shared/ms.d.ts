// `ms` 3.0.0-canary.1 (the version @temporalio/common uses) ships types that its package.json
// "exports" does not point at under NodeNext resolution; this names the one call pgferry makes.
declare module 'ms' {
  export default function ms(value: string): number;
}
