export * from './lifecycle-table';
export * from './transition';
export * from './errors';
export * from './access-policy';
