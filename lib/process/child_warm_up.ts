/**
 * Imported (dynamically) by a prepared interpreter before its job comes (see child.ts): the first module
 * that the loader imports dynamically and that imports a package by name costs ~1.5 ms more than the next
 * ones. Paying that while idle leaves only the user's own module to load when the job arrives.
 */
import 'posix-mp';
